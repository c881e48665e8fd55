//! The output record: one per recipient delivery attempt or rejection, as the merge stage emits
//! it and every writer reads it. Text fields are bytes, kept exactly as logged (logs are not
//! always UTF-8); an empty field means "not logged". The merge stage hands writers a
//! [`RecordRef`], whose fields borrow the log line and the open message they came from, so a
//! record that is written at once is never copied; [`Record::to_owned_record`] makes one that
//! can be held (one buffer for all its text).

use crate::time::Stamp;
use bytes::Bytes;

/// Declares [`Mta`] from one table: each MTA's variant and its name (on the command line, in
/// `--stats` and in the `mta` column). Adding an MTA is one row here.
macro_rules! mtas {
    ($($variant:ident => $name:literal,)+) => {
        /// The mail transfer agent that wrote a line.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum Mta {
            $($variant,)+
        }

        impl Mta {
            /// Every MTA, in declaration order (`Mta as usize` indexes it).
            pub const ALL: &'static [Mta] = &[$(Mta::$variant,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Mta::$variant => $name,)+
                }
            }
        }
    };
}

mtas! {
    Postfix => "postfix",
    Exim => "exim",
    Sendmail => "sendmail",
    Qmail => "qmail",
    Mdaemon => "mdaemon",
    Exchange => "exchange",
    Opensmtpd => "opensmtpd",
}

/// What happened to one recipient.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Status {
    Sent,
    Deferred,
    Bounced,
    Expired,
    Rejected,
    Discarded,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Sent,
        Status::Deferred,
        Status::Bounced,
        Status::Expired,
        Status::Rejected,
        Status::Discarded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Deferred => "deferred",
            Status::Bounced => "bounced",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
            Status::Discarded => "discarded",
        }
    }
}

/// One delivery attempt (or rejection) of one recipient; `T` is how text is held: [`Bytes`]
/// in an owned record, `&[u8]` in a [`RecordRef`].
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Record<T = Bytes> {
    /// When the deciding line was logged.
    pub ts: Option<Stamp>,
    /// Syslog host name of the mail server.
    pub host: T,
    pub mta: Option<Mta>,
    pub queue_id: T,
    pub message_id: T,
    /// Envelope sender without angle brackets; `None` when the log never said (the log began
    /// after the message was queued), `Some("")` for the null sender `<>`.
    pub sender: Option<T>,
    pub recipient: T,
    pub orig_recipient: T,
    pub client_host: T,
    pub client_ip: T,
    pub sasl_username: T,
    pub helo: T,
    pub proto: T,
    /// `relay=` exactly as logged (`host[ip]:port`, `local`, `none`, …).
    pub relay: T,
    pub relay_host: T,
    pub relay_ip: T,
    pub relay_port: Option<u16>,
    pub status: Option<Status>,
    pub dsn: T,
    pub smtp_code: Option<u16>,
    /// Remote reply or reject reason.
    pub reply: T,
    pub size: Option<u64>,
    pub nrcpt: Option<u32>,
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`: before queue, in queue, connection set-up, transmission.
    pub delays: Option<[f64; 4]>,
    /// When the message entered the system (its first line, or the first hop's).
    pub received_ts: Option<Stamp>,
    /// The queue ID this delivery handed the message to (content filter, local re-injection).
    pub next_queue_id: T,
    /// The queue ID of the hop before this message (content filter, bounce notification).
    pub prev_queue_id: T,
    /// MDaemon's content checks as logged: virus, RBL, heuristic spam, SSL (AWStats shows them
    /// in its `%url` field); not a column of the structured formats.
    pub checks: Option<[T; 4]>,
    /// The input holding the deciding line.
    pub source_file: T,
    /// 1-based line number of the deciding line.
    pub source_line: u64,
}

/// A record whose text borrows from where it was found.
pub type RecordRef<'a> = Record<&'a [u8]>;

impl<T: AsRef<[u8]>> Record<T> {
    /// A hop to a content filter on this machine: the message lives on under `next_queue_id`,
    /// so this is not a final delivery.
    pub fn is_hop(&self) -> bool {
        self.status == Some(Status::Sent)
            && !self.next_queue_id.as_ref().is_empty()
            && crate::parse::is_loopback_ip(self.relay_ip.as_ref())
    }

    /// Nanoseconds since the epoch: the order records are written in.
    pub fn key(&self) -> i128 {
        self.ts.map_or(0, |t| t.instant.as_nanosecond())
    }
}

impl<T> Record<T> {
    /// The same record with every text field passed through `f`.
    pub fn map_text<'s, U>(&'s self, mut f: impl FnMut(&'s T) -> U) -> Record<U> {
        Record {
            ts: self.ts,
            host: f(&self.host),
            mta: self.mta,
            queue_id: f(&self.queue_id),
            message_id: f(&self.message_id),
            sender: self.sender.as_ref().map(&mut f),
            recipient: f(&self.recipient),
            orig_recipient: f(&self.orig_recipient),
            client_host: f(&self.client_host),
            client_ip: f(&self.client_ip),
            sasl_username: f(&self.sasl_username),
            helo: f(&self.helo),
            proto: f(&self.proto),
            relay: f(&self.relay),
            relay_host: f(&self.relay_host),
            relay_ip: f(&self.relay_ip),
            relay_port: self.relay_port,
            status: self.status,
            dsn: f(&self.dsn),
            smtp_code: self.smtp_code,
            reply: f(&self.reply),
            size: self.size,
            nrcpt: self.nrcpt,
            delay: self.delay,
            delays: self.delays,
            received_ts: self.received_ts,
            next_queue_id: f(&self.next_queue_id),
            prev_queue_id: f(&self.prev_queue_id),
            checks: self.checks.as_ref().map(|c| c.each_ref().map(&mut f)),
            source_file: f(&self.source_file),
            source_line: self.source_line,
        }
    }
}

impl<T: AsRef<[u8]>> Record<T> {
    /// A view of this record for the writers.
    pub fn view(&self) -> RecordRef<'_> {
        self.map_text(|t| t.as_ref())
    }

    /// An owned copy that can be held: one allocation for all its text.
    pub fn to_owned_record(&self) -> Record {
        let mut buf = Vec::with_capacity(256);
        let spans = self.map_text(|t| {
            let start = buf.len();
            buf.extend_from_slice(t.as_ref());
            start..buf.len()
        });
        let all = Bytes::from(buf);
        spans.map_text(|r| all.slice(r.clone()))
    }
}
