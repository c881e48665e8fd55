//! Lines tied by an SMTP session, not a queue ID (OpenSMTPD): the session's client is kept
//! from `connected` to `disconnected`, and handed to each message accepted in the session and
//! to each command refused in it. Sessions silent for the eviction age are dropped.

use super::text::Text;
use super::{kept, set_key, Ctx, Emit, Merger};
use crate::error::Error;
use crate::parse::SessionEvent;
use hashbrown::HashMap;

/// An open session's client, and when it was last heard of (log time, seconds).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Session {
    host: Text,
    ip: Text,
    at: i64,
}

/// Open sessions by (host, session ID).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Sessions {
    pub(super) open: HashMap<Vec<u8>, Session>,
}

impl Sessions {
    /// Drops sessions last heard of before `limit` (their `disconnected` was lost).
    pub(super) fn sweep(&mut self, limit: i64) {
        self.open.retain(|_, s| s.at >= limit);
    }
}

impl Merger {
    pub(super) fn session(
        &mut self,
        ctx: &Ctx,
        ev: SessionEvent<&[u8]>,
        emit: &mut Emit,
    ) -> Result<(), Error> {
        let now = ctx.ts.instant.as_second();
        match ev {
            SessionEvent::Connect { session, host, ip } => {
                set_key(&mut self.key, ctx.host, session);
                let s = Session {
                    host: kept(host),
                    ip: kept(ip),
                    at: now,
                };
                self.sessions.open.insert(self.key.clone(), s);
            }
            SessionEvent::Message {
                session,
                qid,
                size,
                nrcpt,
                proto,
            } => {
                set_key(&mut self.key, ctx.host, session);
                let client = self.sessions.open.get_mut(self.key.as_slice()).map(|s| {
                    s.at = now;
                    (s.host.clone(), s.ip.clone())
                });
                let m = self.message(ctx, qid);
                if let Some((host, ip)) = client {
                    m.client_host = host;
                    m.client_ip = ip;
                }
                m.size = size.or(m.size);
                m.nrcpt = nrcpt.or(m.nrcpt);
                if let Some(p) = proto {
                    m.proto = kept(p);
                }
            }
            SessionEvent::Reject { session, reject } => {
                set_key(&mut self.key, ctx.host, session);
                let client = self.sessions.open.get_mut(self.key.as_slice()).map(|s| {
                    s.at = now;
                    (s.host.clone(), s.ip.clone())
                });
                let client = client.as_ref().map(|(h, ip)| (&h[..], &ip[..]));
                return self.reject_from(ctx, reject, client, emit);
            }
            SessionEvent::Disconnect { session } => {
                set_key(&mut self.key, ctx.host, session);
                self.sessions.open.remove(self.key.as_slice());
            }
        }
        Ok(())
    }
}
