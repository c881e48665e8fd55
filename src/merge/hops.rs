//! Links between messages: a content-filter hop (the message is re-queued under a new ID on
//! this machine) and a bounce notification (a new message answering an old one). The new
//! message inherits the first hop's client and arrival, or the null sender.

use super::text::Text;
use super::{Ctx, Merger, Probe, Stored};
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

static SAID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b" said: "));

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
