//! The MTA-neutral events a parser turns a line into, generic over the byte-slice type (the
//! pipeline's are borrowed slices of their chunk). What a line says about
//! a message's life (a delivery that settles it, a record that stands alone) travels here; no
//! output format's codes do.

use crate::record::Mta;
use crate::time::RawStamp;

/// What a delivery agent said happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryStatus {
    Sent,
    Deferred,
    Bounced,
    Expired,
    /// Delivered nowhere on purpose (Exim's `:blackhole:`).
    Discarded,
    /// Address verification probes (`status=deliverable|undeliverable`): not deliveries.
    Deliverable,
    Undeliverable,
    Other,
}

/// `reject`, `milter-reject`, `discard`, … : what smtpd/cleanup did with a message or recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectAction {
    Reject,
    RejectWarning,
    Discard,
    Hold,
}

/// A `to=` line of a delivery agent (smtp, lmtp, local, virtual, pipe, error, discard).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery<S> {
    pub qid: S,
    pub to: S,
    pub orig_to: Option<S>,
    /// Raw `relay=` value: `host[ip]:port`, `local`, `none`, `dovecot`, …
    pub relay: S,
    /// The delay as logged (`delay=0.63`, `delay=1+00:00:15`, `DT=2s`): read into seconds by
    /// [`crate::parse::delay_seconds`] only for a format that writes it (AWStats and CLF do
    /// not: ~90 instructions a delivery spared).
    pub delay: Option<S>,
    /// Postfix's `delays=a/b/c/d` as logged (before queue, in queue, connection set-up,
    /// transmission): read by [`crate::parse::postfix::delays`] only for a format that writes
    /// them (four decimals a line, and 32 bytes more in every parsed line).
    pub delays: Option<S>,
    pub dsn: Option<S>,
    pub status: DeliveryStatus,
    pub reply: S,
    /// `to` lists several recipients, comma-separated (Sendmail): one record each.
    pub list: bool,
    /// The MTA logs no line when a message leaves the queue (Sendmail): the message closes
    /// once every recipient has a final status.
    pub closes_when_final: bool,
    /// The new queue ID of a content-filter hop: each parser sets it with [`crate::parse::hop`]
    /// (a test checks every delivery of the fixtures), for the router and the merger.
    pub hop: Option<S>,
}

/// A line that is a whole record by itself (MDaemon, Exchange tracking logs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standalone<S> {
    pub qid: S,
    pub from: S,
    pub to: S,
    pub client_host: Option<S>,
    pub client_ip: Option<S>,
    pub relay: Option<S>,
    pub size: Option<u64>,
    /// Delivered (else failed).
    pub delivered: bool,
    /// An outbound event (Exchange 1031): the client field names the remote host.
    pub outbound: bool,
    /// The log repeats the line for each event of one delivery (Exchange tracking): only the
    /// first line of a (queue ID, sender, recipient) is a record.
    pub once: bool,
    /// MDaemon's virus, RBL, heuristic spam and SSL fields (AWStats' `%url`).
    pub virus: Option<S>,
    pub rbl: Option<S>,
    pub spam: Option<S>,
    pub ssl: Option<S>,
}

/// An arrival line: everything optional but the queue ID and sender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival<S> {
    pub qid: S,
    pub from: S,
    pub size: Option<u64>,
    pub nrcpt: Option<u32>,
    pub client_host: Option<S>,
    pub client_ip: Option<S>,
    pub helo: Option<S>,
    pub proto: Option<S>,
    pub message_id: Option<S>,
    pub sasl_username: Option<S>,
    /// The message this one answers (Exim bounces: `<= <> R=ORIGINAL-ID`).
    pub prev_qid: Option<S>,
}

impl<S> Arrival<S> {
    /// An arrival with only its queue ID and sender known.
    pub fn new(qid: S, from: S) -> Self {
        Arrival {
            qid,
            from,
            size: None,
            nrcpt: None,
            client_host: None,
            client_ip: None,
            helo: None,
            proto: None,
            message_id: None,
            sasl_username: None,
            prev_qid: None,
        }
    }
}

/// A `reject:`-family line: `NOQUEUE: reject: RCPT from …; from=<…> to=<…> proto=… helo=<…>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reject<S> {
    pub qid: Option<S>,
    pub action: RejectAction,
    /// `milter-reject` rather than `reject`.
    pub milter: bool,
    /// SMTP stage or cleanup check: `RCPT`, `DATA`, `CONNECT`, `END-OF-MESSAGE`, `header`, …
    pub stage: S,
    /// Raw client `host[ip]` (possibly with `:port`), empty when not logged.
    pub client: S,
    /// The reply sent to the client: `554 5.7.1 <x>: Relay access denied`.
    pub reply: S,
    /// The reply code when the log gives it apart from `reply` (Exim logs none: its ACL
    /// defaults stand in).
    pub code: Option<u16>,
    pub from: Option<S>,
    pub to: Option<S>,
    pub proto: Option<S>,
    pub helo: Option<S>,
}

/// One recognised event. Queue IDs are as logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<S> {
    /// smtpd `client=host[ip]` (+ `sasl_username=`).
    ///
    /// Its peer split here, in the parallel parse step: the merge step runs one chunk at a
    /// time with two workers, and the split was ~2% of a Postfix run's instructions there.
    Client {
        qid: S,
        client_host: S,
        client_ip: S,
        sasl_username: Option<S>,
    },
    /// pickup `uid=N from=<…>`: a local submission.
    Pickup {
        qid: S,
        from: S,
    },
    /// cleanup `message-id=<…>`.
    MessageId {
        qid: S,
        message_id: S,
    },
    /// qmgr `from=<…>, size=N, nrcpt=N (queue active)`.
    Queued {
        qid: S,
        from: S,
        size: Option<u64>,
        nrcpt: Option<u32>,
    },
    /// A message accepted, with what its arrival line tells (Exim `<=`): sender, size and the
    /// client in one line.
    Arrival(Arrival<S>),
    /// A whole record in one line (MDaemon, Exchange).
    Standalone(Standalone<S>),
    /// qmail `new msg N`: message number N starts afresh (qmail reuses numbers).
    NewMessage {
        qid: S,
    },
    /// qmail `starting delivery D: msg N to local|remote addr`.
    DeliveryStart {
        qid: S,
        delivery: S,
        channel: S,
        to: S,
    },
    /// qmail `delivery D: success|failure|deferral: text`.
    DeliveryEnd {
        delivery: S,
        status: DeliveryStatus,
        reply: S,
    },
    /// qmgr `from=<…>, status=expired, returned to sender`.
    Expired {
        qid: S,
        from: S,
    },
    /// qmgr/postsuper `removed`: the message is gone; its queue ID may be reused.
    Removed {
        qid: S,
    },
    Delivery(Delivery<S>),
    Reject(Reject<S>),
    /// bounce `sender non-delivery notification: NEWID` (and delivery-status notifications).
    Notification {
        qid: S,
        new_qid: S,
    },
    /// A line of an SMTP session whose lines are tied by a session ID, not a queue ID
    /// (OpenSMTPD).
    Session(SessionEvent<S>),
    /// A line of a known MTA that carries nothing a record needs (connect, warning, …).
    Ignored,
    /// A line of a known MTA in a form we know but could not read (truncated, garbled).
    Malformed,
}

/// What a session-keyed line says: the client connected, a message was accepted in the
/// session, a command was refused, the session ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionEvent<S> {
    Connect {
        session: S,
        host: S,
        ip: S,
    },
    /// Message `qid` was accepted in the session (the client's message inherits its client).
    Message {
        session: S,
        qid: S,
        size: Option<u64>,
        nrcpt: Option<u32>,
        proto: Option<S>,
    },
    /// A refused command: a reject whose client is the session's.
    Reject {
        session: S,
        reject: Reject<S>,
    },
    Disconnect {
        session: S,
    },
}

/// A parsed log line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<S> {
    /// Not a line of a mail server we read.
    Unknown,
    Known {
        stamp: RawStamp,
        host: S,
        mta: Mta,
        event: Event<S>,
    },
}
