//! Links between messages: a content-filter hop (the message is re-queued under a new ID on
//! this machine) and a bounce notification (a new message answering an old one). The new
//! message inherits the first hop's client and arrival, or the null sender.

use super::text::Text;
use super::{Ctx, Merger, Probe, Stored};
use crate::parse::postfix::is_queue_id;
use crate::time::Stamp;

/// What a message inherits from the hop before it (content filter or bounce notification).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Origin {
    /// Log time (seconds) the link was made, for eviction.
    pub at: i64,
    pub prev_qid: Text,
    /// A content-filter hop carries the original client; a bounce notification does not.
    pub client: Option<(Text, Text, Text)>,
    pub received: Option<Stamp>,
    /// A delivery status notification: sent from the null sender (RFC 5321 §4.5.5), which
    /// Sendmail never logs in a `from=` line for it.
    pub notification: bool,
}

static QUEUED_AS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"queued as "));
static SAID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b" said: "));

/// The queue ID a content filter or next MTA gave the message: `… queued as 6A3D8C0` or, for
/// filters that only echo it, a queue-ID-shaped last word (`250 OK, sent … 7918B29DA`).
pub fn queued_as(reply: &[u8]) -> Option<&[u8]> {
    let word = |s: &[u8]| -> usize {
        s.iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(s.len())
    };
    if let Some(i) = QUEUED_AS.find(reply) {
        let s = &reply[i + 10..];
        let id = &s[..word(s)];
        return (is_queue_id(id) || crate::parse::sendmail::is_queue_id(id)).then_some(id);
    }
    // Sendmail: `j061bXn5000812 Message accepted for delivery`.
    if let Some(i) = crate::parse::finder!(b" Message accepted for delivery").find(reply) {
        let id = &reply[..i];
        if crate::parse::sendmail::is_queue_id(id) {
            return Some(id);
        }
        // OpenSMTPD: `250 2.0.0: f6e94209 Message accepted for delivery`.
        let last = id.rsplit(|&c| c == b' ').next().unwrap_or_default();
        return crate::parse::opensmtpd::is_msgid(last).then_some(last);
    }
    let trimmed = reply
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .map_or(&reply[..0], |e| &reply[..=e]);
    let start = trimmed
        .iter()
        .rposition(|c| !c.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    let id = &trimmed[start..];
    is_queue_id(id).then_some(id)
}

/// `host mx[1.2.3.4] said: 550 5.1.1 …` → `550 5.1.1 …`, so the reply code can be read.
pub(super) fn strip_host_said(reply: &[u8]) -> &[u8] {
    // The prefix first: most replies are a server's own (`250 2.0.0 Ok`), and the search ran
    // for every delivery (~100 instructions).
    if !reply.starts_with(b"host ") {
        return reply;
    }
    match SAID.find(reply) {
        Some(i) => &reply[i + 7..],
        None => reply,
    }
}

impl Merger {
    /// Attaches `origin` to message `new_qid`, now if it is open, else when it first appears.
    pub(super) fn link(&mut self, ctx: &Ctx, new_qid: &[u8], origin: Origin) {
        let key = Probe::new(ctx.host, new_qid);
        match self.open.get_mut(&key) {
            Some(o) => {
                o.message.origin.get_or_insert(Box::new(origin));
            }
            None => {
                self.links.insert(Stored::from(&key), origin);
            }
        }
    }
}
