//! Deliveries logged in two lines tied by a delivery number, not a queue ID (qmail: `starting
//! delivery D: msg N to local|remote addr`, then `delivery D: success|deferral|failure: …`).

use super::text::Text;
use super::{base_record, kept, set_key, Ctx, Emit, Merger};
use crate::error::Error;
use crate::parse::DeliveryStatus;
use crate::record::Status;

/// A qmail delivery between `starting delivery` and its result.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Pending {
    pub(super) qid: Vec<u8>,
    pub(super) to: Text,
    pub(super) local: bool,
    pub(super) at: i64,
}

impl Merger {
    /// A numbered delivery's start: what its end will need.
    pub(super) fn delivery_start(
        &mut self,
        ctx: &Ctx,
        qid: &[u8],
        delivery: &[u8],
        channel: &[u8],
        to: &[u8],
    ) {
        self.message(ctx, qid);
        set_key(&mut self.key, ctx.host, delivery);
        let pending = Pending {
            qid: qid.to_vec(),
            to: kept(to),
            local: channel == b"local",
            at: ctx.ts.instant.as_second(),
        };
        self.deliveries.insert(self.key.clone(), pending);
    }

    /// A numbered delivery's end (qmail `delivery D: …`): the record of the delivery its start
    /// (`starting delivery D`) began.
    pub(super) fn numbered_delivery(
        &mut self,
        ctx: &Ctx,
        delivery: &[u8],
        status: DeliveryStatus,
        reply: &[u8],
        emit: &mut Emit,
    ) -> Result<(), Error> {
        set_key(&mut self.key, ctx.host, delivery);
        let Some(p) = self.deliveries.remove(self.key.as_slice()) else {
            return Ok(());
        };
        let status = match status {
            DeliveryStatus::Sent => Status::Sent,
            DeliveryStatus::Deferred => Status::Deferred,
            _ => Status::Bounced,
        };
        let m = self.message(ctx, &p.qid);
        if status == Status::Deferred {
            m.deferred.add(&p.to);
        } else {
            m.deferred.remove(&p.to);
        }
        let mut r = base_record(ctx, &p.qid, m);
        r.status = Some(status);
        r.recipient = &p.to;
        // A local delivery's relay is `local` (as Postfix names it); a remote one's is not logged.
        if p.local {
            r.relay = b"local";
        }
        r.reply = reply;
        emit(&r)
    }
}
