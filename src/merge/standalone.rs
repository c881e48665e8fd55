//! Lines that are a whole record by themselves (MDaemon, Exchange tracking logs): a record
//! each. A line marked `once` is written only the first time
//! its (queue ID, sender, recipient) is seen, in a window of its own, bounded in age and size,
//! apart from the open-message table.

use super::{Ctx, Emit, Merger};
use crate::error::Error;
use crate::parse::Standalone;
use crate::record::{RecordRef, Status};
use hashbrown::HashSet;
use std::collections::VecDeque;

/// Keys remembered at most (~100 bytes each): past this, the oldest are forgotten first.
const ONCE_MAX: usize = 1 << 18;

/// The keys of `once` lines already written, oldest first.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Once {
    pub(super) seen: HashSet<Vec<u8>>,
    pub(super) order: VecDeque<(i64, Vec<u8>)>,
}

impl Once {
    /// True the first time `key` is offered (it is then remembered from `now`).
    fn first(&mut self, key: &[u8], now: i64, share: usize) -> bool {
        if self.seen.contains(key) {
            return false;
        }
        while self.order.len() >= (ONCE_MAX / share).max(1024) {
            self.forget_oldest();
        }
        self.seen.insert(key.to_vec());
        self.order.push_back((now, key.to_vec()));
        true
    }

    fn forget_oldest(&mut self) {
        if let Some((_, k)) = self.order.pop_front() {
            self.seen.remove(&k);
        }
    }

    /// Forgets keys first seen before `limit`.
    pub(super) fn sweep(&mut self, limit: i64) {
        while self.order.front().is_some_and(|(at, _)| *at < limit) {
            self.forget_oldest();
        }
    }
}

impl Merger {
    /// A line that is a record by itself.
    pub(super) fn standalone(
        &mut self,
        ctx: &Ctx,
        x: Standalone<&[u8]>,
        emit: &mut Emit,
    ) -> Result<(), Error> {
        if x.once {
            super::set_key(&mut self.key, x.qid, x.from);
            self.key.push(0);
            self.key.extend_from_slice(x.to);
            if !self
                .once
                .first(&self.key, ctx.ts.instant.as_second(), self.share)
            {
                return Ok(());
            }
        }
        let mut r = RecordRef {
            ts: Some(*ctx.ts),
            received_ts: Some(*ctx.ts),
            host: ctx.host,
            mta: Some(ctx.mta),
            queue_id: x.qid,
            sender: Some(x.from),
            recipient: x.to,
            client_host: x.client_host.unwrap_or_default(),
            client_ip: x.client_ip.unwrap_or_default(),
            relay: x.relay.unwrap_or_default(),
            size: x.size,
            status: Some(if x.delivered {
                Status::Sent
            } else {
                Status::Bounced
            }),
            source_file: ctx.source,
            source_line: ctx.line,
            ..RecordRef::default()
        };
        if x.outbound {
            std::mem::swap(&mut r.client_host, &mut r.relay);
            r.client_ip = b"";
        }
        if let (Some(v), Some(b), Some(s), Some(t)) = (x.virus, x.rbl, x.spam, x.ssl) {
            r.checks = Some([v, b, s, t]);
        }
        emit(&r)
    }
}
