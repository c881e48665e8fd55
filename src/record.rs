//! The output record: one per recipient delivery attempt or rejection, as the merge stage emits
//! it and every writer reads it. Text fields are bytes, kept exactly as logged (logs are not
//! always UTF-8); an empty field means "not logged". Fields are [`Bytes`] slices of the log
//! lines they came from: a record costs one copy of its deciding line, and the fields it shares
//! with its message are reference-counted, not copied.

use crate::parse::Mta;
use crate::time::Stamp;
use bytes::Bytes;

/// What happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// One delivery attempt (or rejection) of one recipient.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// When the deciding line was logged.
    pub ts: Option<Stamp>,
    /// Syslog host name of the mail server.
    pub host: Bytes,
    pub mta: Option<Mta>,
    pub queue_id: Bytes,
    pub message_id: Bytes,
    /// Envelope sender without angle brackets; `None` when the log never said (the log began
    /// after the message was queued), `Some("")` for the null sender `<>`.
    pub sender: Option<Bytes>,
    pub recipient: Bytes,
    pub orig_recipient: Bytes,
    pub client_host: Bytes,
    pub client_ip: Bytes,
    pub sasl_username: Bytes,
    pub helo: Bytes,
    pub proto: Bytes,
    /// `relay=` exactly as logged (`host[ip]:port`, `local`, `none`, …).
    pub relay: Bytes,
    pub relay_host: Bytes,
    pub relay_ip: Bytes,
    pub relay_port: Option<u16>,
    pub status: Option<Status>,
    pub dsn: Bytes,
    pub smtp_code: Option<u16>,
    /// Remote reply or reject reason.
    pub reply: Bytes,
    pub size: Option<u64>,
    pub nrcpt: Option<u32>,
    pub delay: Option<f64>,
    /// `delays=a/b/c/d`: before queue, in queue, connection set-up, transmission.
    pub delays: Option<[f64; 4]>,
    /// When the message entered the system (its first line, or the first hop's).
    pub received_ts: Option<Stamp>,
    /// The queue ID this delivery handed the message to (content filter, local re-injection).
    pub next_queue_id: Bytes,
    /// The queue ID of the hop before this message (content filter, bounce notification).
    pub prev_queue_id: Bytes,
    /// AWStats' `%url` field as maillogconvert.pl fills it (MDaemon's `?virus=…&rbl=…`);
    /// not a column of the structured formats, which have the fields themselves.
    pub extinfo: Bytes,
    /// The input holding the deciding line.
    pub source_file: std::sync::Arc<str>,
    /// 1-based line number of the deciding line.
    pub source_line: u64,
}

impl Record {
    /// A hop to a content filter on this machine: the message lives on under `next_queue_id`,
    /// so this is not a final delivery.
    pub fn is_hop(&self) -> bool {
        self.status == Some(Status::Sent)
            && !self.next_queue_id.is_empty()
            && crate::parse::is_loopback_ip(&self.relay_ip)
    }
}
