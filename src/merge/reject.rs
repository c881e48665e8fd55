//! Rejects and discards: a record for the refused recipient (or the refused session, which
//! names none), with the client the line or the session names.

use super::{base_record, kept, Ctx, Emit, Merger};
use crate::error::Error;
use crate::parse::{reply_codes, split_peer, Reject, RejectAction};
use crate::record::{RecordRef, Status};

impl Merger {
    pub(super) fn reject(
        &mut self,
        ctx: &Ctx,
        rj: Reject<&[u8]>,
        emit: &mut Emit,
    ) -> Result<(), Error> {
        self.reject_from(ctx, rj, None, emit)
    }

    /// A reject; `session_client` (host, ip) stands for a client the line does not name.
    pub(super) fn reject_from(
        &mut self,
        ctx: &Ctx,
        rj: Reject<&[u8]>,
        session_client: Option<(&[u8], &[u8])>,
        emit: &mut Emit,
    ) -> Result<(), Error> {
        let status = match rj.action {
            RejectAction::Reject => Status::Rejected,
            RejectAction::Discard => Status::Discarded,
            // A warning rejects nothing; a hold is not an attempt (the message waits).
            RejectAction::RejectWarning | RejectAction::Hold => return Ok(()),
        };
        let mut r = match rj.qid {
            Some(qid) => {
                let m = self.message(ctx, qid);
                if let (Some(from), None) = (rj.from, &m.sender) {
                    m.sender = Some(kept(from));
                }
                base_record(ctx, qid, m)
            }
            None => RecordRef {
                ts: Some(ctx.ts),
                received_ts: Some(ctx.ts),
                host: ctx.host,
                mta: Some(ctx.mta),
                source_file: ctx.source,
                source_line: ctx.line,
                ..RecordRef::default()
            },
        };
        r.status = Some(status);
        if let Some((h, ip)) = session_client {
            r.client_host = h;
            r.client_ip = ip;
        }
        if !rj.client.is_empty() {
            let (h, ip, _) = split_peer(rj.client);
            if r.client_host.is_empty() && r.client_ip.is_empty() || rj.qid.is_none() {
                r.client_host = h;
                r.client_ip = ip;
            }
        }
        if let Some(from) = rj.from {
            r.sender = Some(from);
        }
        r.recipient = rj.to.unwrap_or_default();
        r.proto = rj.proto.unwrap_or_default();
        r.helo = rj.helo.unwrap_or_default();
        r.reply = rj.reply;
        let (code, dsn) = reply_codes(rj.reply);
        r.smtp_code = rj.code.or(code);
        r.dsn = dsn.unwrap_or_default();
        match rj.qid {
            // The message's sender line may follow (Sendmail logs it when the session ends).
            Some(qid) if r.sender.is_none() => {
                let record = Box::new(r.to_owned_record());
                self.hold_for_sender(ctx, qid, record);
                Ok(())
            }
            _ => emit(&r),
        }
    }
}
