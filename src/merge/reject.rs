//! Rejects and discards: a record for the refused recipient (or the refused session, which
//! names none), with the client the line or the session names. A reject of a queued message
//! whose sender is not yet known waits briefly for it (Sendmail logs it when the session ends).

use super::{base_record, kept, set_key, Ctx, Emit, Merger, Probe};
use crate::error::Error;
use crate::parse::{reply_codes, split_peer, Reject, RejectAction};
use crate::record::{RecordRef, Status};

/// A reject held for its message's sender: the message's key, when it was decided (log
/// seconds), the record.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) key: Vec<u8>,
    pub(super) at: i64,
    /// The place of the line that decided it ([`Ctx::order`]).
    pub(super) order: u64,
    pub(super) record: Box<crate::record::Record>,
}

/// How long a reject waits for its message's sender line: a session ends seconds after the
/// refusal, and the records' reorder window (five minutes) must still hold it.
pub(super) const SENDER_WAIT_SECS: i64 = 60;

/// Rejects held at most: a flood of refusals within a minute of log time waits no longer than
/// this many deep (the oldest is written as it is), so memory and the search for a sender's
/// rejects stay bounded whatever the input.
pub const PENDING_BUDGET: usize = 4096;

impl Merger {
    /// Writes the held rejects decided before `before` (log seconds; all with `i64::MAX`)
    /// as they are: their sender never came.
    pub fn flush_pending(&mut self, before: i64, emit: &mut Emit) -> Result<(), Error> {
        let due = self.pending.iter().take_while(|p| p.at < before).count();
        for p in self.pending.drain(..due) {
            emit(&p.record.view())?;
        }
        Ok(())
    }

    /// Holds `r` (a reject of a message with no sender yet) for the sender line.
    pub(super) fn hold_for_sender(
        &mut self,
        ctx: &Ctx,
        qid: &[u8],
        record: Box<crate::record::Record>,
    ) {
        let mut key = Vec::new();
        set_key(&mut key, ctx.host, qid);
        self.pending.push(Pending {
            key,
            at: ctx.ts.instant.as_second(),
            order: ctx.order,
            record,
        });
    }

    /// The sender of message `qid` is now known: its held rejects are written.
    pub(super) fn release_pending(
        &mut self,
        ctx: &Ctx,
        qid: &[u8],
        emit: &mut Emit,
    ) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(sender) = self.open.get(&Probe::new(ctx.host, qid)).and_then(|o| {
            o.message
                .sender
                .as_deref()
                .map(bytes::Bytes::copy_from_slice)
        }) else {
            return Ok(());
        };
        set_key(&mut self.key, ctx.host, qid);
        let key = &self.key;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].key == *key {
                let mut p = self.pending.remove(i);
                p.record.sender = Some(sender.clone());
                emit(&p.record.view())?;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

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
                ts: Some(*ctx.ts),
                received_ts: Some(*ctx.ts),
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
                if self.pending.len() >= (PENDING_BUDGET / self.share).max(16) {
                    let oldest = self.pending.remove(0);
                    emit(&oldest.record.view())?;
                }
                self.hold_for_sender(ctx, qid, record);
                Ok(())
            }
            _ => emit(&r),
        }
    }
}
