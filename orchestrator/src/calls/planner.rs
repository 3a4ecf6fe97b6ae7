//! Where a new call goes: the routing plan for each incoming call (extensions, numbers,
//! schedules, IVR menus, outside numbers through a trunk, class of service), its call record and
//! its media ports, prepared beside the call router so that it never waits on this work.

use crate::calls::conference::SUPERVISE_PREFIX;
use crate::error::Result;
use crate::model::{validate::is_e164, ClassOfService, Target};
use crate::store::calls;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use switchboard_telephony::media::relay::{MediaSockets, PortPool};
use switchboard_telephony::sip::b2bua::{Caller, IncomingCall};

/// Where a call should go, before media is attached.
pub(crate) enum Plan {
    /// Ring an extension without answering the caller (they hear their own ringing). With
    /// `forward`, nobody answering sends the call to the agent's forwarding or voicemail box.
    Ring {
        account: i64,
        extension: String,
        lines: usize,
        ring_ms: u64,
        direction: &'static str,
        to: String,
        forward: bool,
    },
    Dial {
        account: i64,
        /// The outside number dialled.
        outside: String,
        uri: String,
        peer: SocketAddr,
        caller_id: String,
        credentials: Option<(String, String)>,
        to: String,
        /// The caller's class of service limits the call (minutes).
        limit_minutes: Option<u32>,
    },
    /// Answer the call and hand it to the dispatcher (IVR, queue, voicemail, AI agent, hang-up,
    /// an agent whose calls are forwarded unconditionally).
    Serve {
        account: i64,
        target: Target,
        to: String,
    },
    Reject {
        status: u16,
        account: Option<i64>,
        direction: &'static str,
        to: String,
        why: String,
    },
    /// A supervisor's phone dialled a supervision code (see `calls::conference::Ticket`):
    /// answer it and put it in the supervised call.
    Supervise {
        account: i64,
        code: String,
        to: String,
    },
}

/// How to ring an agent of the account (or serve the call when it is forwarded at once).
fn ring_plan(
    snap: &crate::calls::snapshot::Snapshot,
    account: i64,
    extension: String,
    direction: &'static str,
    to: String,
) -> Plan {
    let agent = snap.agent(account, &extension);
    if let Some(target) = agent.and_then(|a| a.forwarding.unconditional.clone()) {
        return Plan::Serve { account, target, to };
    }
    let (lines, ring_ms) = agent.map(|a| a.ringing()).unwrap_or(crate::model::UNKNOWN_AGENT_RINGING);
    let forward = agent.is_some_and(|a| {
        a.forwarding.on_busy.is_some() || a.forwarding.on_no_answer.is_some() || a.voicemail_box.is_some()
    });
    Plan::Ring { account, extension, lines, ring_ms, direction, to, forward }
}

/// The country-code prefix of an E.164 number, roughly: `+1` and `+7` are one digit, others
/// are taken as two (good enough to tell national from international for class of service).
fn country_prefix(e164: &str) -> &str {
    let len = if e164.starts_with("+1") || e164.starts_with("+7") { 2 } else { 3 };
    // Numbers are checked E.164 by now; anything else is compared whole rather than cut.
    e164.get(..len).unwrap_or(e164)
}

/// The number (E.164) someone dialled from an account whose own number is `home`: ten digits
/// in a +1 account are a national (NANP) number.
pub fn dialled_number(dialled: &str, home: &str) -> Option<String> {
    let digits: String = dialled.chars().filter(|c| c.is_ascii_digit()).collect();
    if !dialled.starts_with('+') && digits.len() == 10 && home.starts_with("+1") {
        Some(format!("+1{digits}"))
    } else {
        as_e164(dialled)
    }
}

/// Whether a class of service lets an agent dial `number` (E.164); the reason when not.
pub fn may_dial(cos: Option<&ClassOfService>, number: &str, home: &str) -> std::result::Result<(), String> {
    let Some(cos) = cos else { return Ok(()) };
    if let Some(p) = cos.blocked_prefixes.iter().find(|p| number.starts_with(p.as_str())) {
        return Err(format!("numbers starting {p} are blocked"));
    }
    let premium = ["+1900", "+1976"].iter().any(|p| number.starts_with(p));
    if premium && !cos.allow_premium {
        return Err("premium-rate numbers are not allowed".into());
    }
    let national = country_prefix(number) == country_prefix(home);
    if national && !cos.allow_national {
        return Err("national calls are not allowed".into());
    }
    if !national && !cos.allow_international {
        return Err("international calls are not allowed".into());
    }
    Ok(())
}

/// Whether an agent's class of service lets them call `number` (E.164) out now: outside calls
/// at all, the hours they are allowed in, then the number's rules (`may_dial`).
pub fn may_call_out(
    snap: &crate::calls::snapshot::Snapshot,
    account: i64,
    cos: Option<&ClassOfService>,
    number: &str,
    home: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> std::result::Result<(), String> {
    let Some(c) = cos else { return Ok(()) };
    if c.block_outbound {
        return Err("outside calls are not allowed".into());
    }
    if let Some(hours) = &c.outbound_hours {
        if !snap.schedule(account, hours).is_some_and(|s| s.is_open(now)) {
            return Err(format!("outside calls are allowed only while {hours} is open"));
        }
    }
    may_dial(cos, number, home)
}

/// Why `extension`'s class of service refuses a call to `destination` (an extension or a
/// number) now, if it does: what an override request is for.
pub fn refusal(
    snap: &crate::calls::snapshot::Snapshot,
    account: i64,
    extension: &str,
    destination: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let cos = class_of(snap, account, extension)?;
    if snap.agent(account, destination).is_some() {
        return (!cos.allow_internal).then(|| "internal calls are not allowed".to_string());
    }
    let home = snap.account(account)?.settings.as_ref()?.caller_id.clone().unwrap_or_else(|| "+1".into());
    let number = dialled_number(destination, &home)?;
    may_call_out(snap, account, Some(cos), &number, &home, now).err()
}

/// The class of service of an agent, if they have one.
fn class_of<'a>(
    snap: &'a crate::calls::snapshot::Snapshot,
    account: i64,
    extension: &str,
) -> Option<&'a ClassOfService> {
    let name = snap.agent(account, extension)?.class_of_service.as_deref()?;
    snap.class_of_service(account, name)
}

/// A call an agent's class of service refused, let through by a supervisor's approval (taken:
/// it lets one call through); what the record keeps of it.
fn overridden(
    overrides: &crate::calls::overrides::Overrides,
    account: i64,
    extension: &str,
    destination: &str,
    rule: &str,
) -> Option<serde_json::Value> {
    let grant = overrides.take_grant(account, extension, destination, crate::clock::now_ms())?;
    Some(serde_json::json!({
        "rule": rule, "request": grant.id, "requested_by": grant.requested_by, "reason": grant.reason,
        "approved_by": grant.decided_by, "requested_at": grant.requested_at, "approved_at": grant.decided_at,
    }))
}

/// An outside call refused, for the call record.
fn outbound_reject(account: i64, status: u16, why: String, to: String) -> Plan {
    Plan::Reject { status, account: Some(account), direction: "outbound", to, why }
}

/// A dialled string as E.164, when it is a number.
pub(crate) fn as_e164(dialled: &str) -> Option<String> {
    let digits: String = dialled.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let e = if digits.starts_with('+') { digits } else { format!("+{digits}") };
    is_e164(&e).then_some(e)
}

/// Decides where new calls go (from the configuration snapshot), queues their call records and
/// binds their media ports: work that runs beside the router, never blocking it.
#[derive(Clone)]
pub(crate) struct Planner {
    pub(crate) snapshot: tokio::sync::watch::Receiver<Arc<crate::calls::snapshot::Snapshot>>,
    pub(crate) records: calls::RecordWriter,
    pub(crate) pool: Arc<PortPool>,
    pub(crate) media_ip: IpAddr,
    /// Supervisors' approvals of calls a class of service refuses.
    pub(crate) overrides: crate::calls::overrides::Overrides,
}

/// A new call, its plan, its call record and (unless refused) its media ports.
pub(crate) struct Prepared {
    pub(crate) inc: IncomingCall,
    pub(crate) plan: Plan,
    pub(crate) record: Option<calls::RecordKey>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) media: Option<std::io::Result<(MediaSockets, MediaSockets)>>,
}

impl Planner {
    /// Where the call goes; `notes` gets what the record should show of how that was decided
    /// (the schedules passed).
    async fn plan(
        &self,
        inc: &IncomingCall,
        notes: &mut Vec<(&'static str, serde_json::Value)>,
    ) -> Result<Plan> {
        match &inc.caller {
            Caller::User { account, .. } if inc.dialled.starts_with(SUPERVISE_PREFIX) => {
                let code = inc.dialled.trim_start_matches(SUPERVISE_PREFIX).to_string();
                Ok(Plan::Supervise { account: *account, code, to: inc.dialled.clone() })
            }
            Caller::User { account, extension } => {
                let snap = self.snapshot.borrow().clone();
                match snap.agent(*account, &inc.dialled) {
                    Some(agent) if agent.extension != *extension => {
                        if class_of(&snap, *account, extension).is_some_and(|c| !c.allow_internal) {
                            let rule = "internal calls are not allowed";
                            match overridden(&self.overrides, *account, extension, &inc.dialled, rule) {
                                Some(note) => notes.push(("class_of_service_override", note)),
                                None => {
                                    return Ok(Plan::Reject {
                                        status: 403,
                                        account: Some(*account),
                                        direction: "internal",
                                        to: inc.dialled.clone(),
                                        why: rule.into(),
                                    })
                                }
                            }
                        }
                        Ok(ring_plan(
                            &snap,
                            *account,
                            agent.extension.clone(),
                            "internal",
                            inc.dialled.clone(),
                        ))
                    }
                    Some(_) => Ok(Plan::Reject {
                        status: 486,
                        account: Some(*account),
                        direction: "internal",
                        to: inc.dialled.clone(),
                        why: "called itself".into(),
                    }),
                    None if inc.dialled.len() >= 7 => {
                        self.plan_outbound(*account, extension, &inc.dialled, notes).await
                    }
                    None => Ok(Plan::Reject {
                        status: 404,
                        account: Some(*account),
                        direction: "internal",
                        to: inc.dialled.clone(),
                        why: "no such extension".into(),
                    }),
                }
            }
            Caller::Trunk { accounts } => {
                let Some(number) = as_e164(&inc.dialled) else {
                    return Ok(Plan::Reject {
                        status: 404,
                        account: None,
                        direction: "inbound",
                        to: inc.dialled.clone(),
                        why: "not a number".into(),
                    });
                };
                let owner = self.snapshot.borrow().owner_of_number(&number).filter(|a| accounts.contains(a));
                let Some(account) = owner else {
                    return Ok(Plan::Reject {
                        status: 404,
                        account: None,
                        direction: "inbound",
                        to: number,
                        why: "unknown number".into(),
                    });
                };
                self.plan_did(account, number, inc.from_user.clone(), notes).await
            }
        }
    }

    /// A call to one of the account's numbers (from a carrier, or from an agent of the account).
    async fn plan_did(
        &self,
        account: i64,
        number: String,
        from_user: Option<String>,
        notes: &mut Vec<(&'static str, serde_json::Value)>,
    ) -> Result<Plan> {
        let snap = self.snapshot.borrow().clone();
        let did = snap.number(account, &number).cloned();
        let mut target = did.map(|d| d.target);
        // Schedules choose between targets by the time of day (a few levels at most).
        for _ in 0..5 {
            let Some(Target::Schedule { name }) = &target else { break };
            let schedule = snap.schedule(account, name);
            let chosen = schedule.map(|s| s.target_at(crate::clock::now()).clone());
            notes.push(("schedule", serde_json::json!({ "schedule": name, "target": chosen })));
            target = chosen;
        }
        match target {
            Some(Target::Agent { extension }) => Ok(ring_plan(&snap, account, extension, "inbound", number)),
            // A number forwarded outside (a mobile, another office): out through the
            // trunk, presenting the original caller.
            Some(Target::External { number: outside }) => {
                let caller = from_user.clone().and_then(|f| as_e164(&f)).unwrap_or_else(|| number.clone());
                let mut plan = self.through_trunk(account, outside, caller, true).await?;
                if let Plan::Dial { to, .. } = &mut plan {
                    *to = number;
                }
                Ok(plan)
            }
            // Schedules nested too deep: the dispatcher resolves what is left (and stops loops).
            Some(target) => Ok(Plan::Serve { account, target, to: number }),
            None => Ok(Plan::Reject {
                status: 404,
                account: Some(account),
                direction: "inbound",
                to: number,
                why: "unknown number".into(),
            }),
        }
    }

    /// An agent dialling an outside number: class of service, then the account's trunk.
    async fn plan_outbound(
        &self,
        account: i64,
        extension: &str,
        dialled: &str,
        notes: &mut Vec<(&'static str, serde_json::Value)>,
    ) -> Result<Plan> {
        let snap = self.snapshot.borrow().clone();
        let Some(settings) = snap.account(account).and_then(|a| a.settings.clone()) else {
            return Ok(Plan::Reject {
                status: 404,
                account: Some(account),
                direction: "outbound",
                to: dialled.to_string(),
                why: "unknown account".into(),
            });
        };
        let home = settings.caller_id.clone().unwrap_or_else(|| "+1".into());
        let number = dialled_number(dialled, &home);
        let reject = |status: u16, why: String, to: String| outbound_reject(account, status, why, to);
        let Some(number) = number else { return Ok(reject(404, "not a number".into(), dialled.to_string())) };
        // One of the account's own numbers: handled here like a call from outside.
        if snap.owner_of_number(&number) == Some(account) {
            return self.plan_did(account, number, None, notes).await;
        }
        let Some(agent) = snap.agent(account, extension) else {
            // A supervisor's personal browser line: for listening in and taking over.
            let why = "calling out needs an agent extension (ask an admin to link one)".to_string();
            return Ok(reject(403, why, number));
        };
        let cos =
            agent.class_of_service.as_deref().and_then(|name| snap.class_of_service(account, name)).cloned();
        if let Err(why) = may_call_out(&snap, account, cos.as_ref(), &number, &home, crate::clock::now()) {
            match overridden(&self.overrides, account, extension, &number, &why) {
                Some(note) => notes.push(("class_of_service_override", note)),
                None => return Ok(reject(403, why, number)),
            }
        }
        let caller_id = settings.caller_id.unwrap_or_else(|| extension.to_string());
        let mut plan = self.through_trunk(account, number, caller_id, false).await?;
        if let Plan::Dial { limit_minutes, .. } = &mut plan {
            *limit_minutes = cos.and_then(|c| c.max_call_minutes);
        }
        Ok(plan)
    }

    /// A call to `number` through the account's trunk. `keep_caller_id` presents `caller_id`
    /// (a forwarded caller's number); otherwise the trunk's caller ID wins over it.
    async fn through_trunk(
        &self,
        account: i64,
        number: String,
        caller_id: String,
        keep_caller_id: bool,
    ) -> Result<Plan> {
        let reject = |status: u16, why: String, to: String| outbound_reject(account, status, why, to);
        let trunk = self.snapshot.borrow().account(account).and_then(|a| a.trunks.first().cloned());
        let Some(trunk) = trunk else {
            return Ok(reject(503, "no trunk configured for outside calls".into(), number));
        };
        let peer = match tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(p) => p,
            None => return Ok(reject(503, format!("cannot resolve trunk host {}", trunk.host), number)),
        };
        let caller_id = if keep_caller_id { caller_id } else { trunk.caller_id.clone().unwrap_or(caller_id) };
        let credentials = trunk.username.clone().zip(trunk.password.clone());
        Ok(Plan::Dial {
            account,
            outside: number.clone(),
            uri: format!("sip:{number}@{}:{}", trunk.host, trunk.port),
            peer,
            caller_id,
            credentials,
            to: number,
            limit_minutes: None,
        })
    }

    /// Everything about a new call that needs the database: where it goes, the customer, the
    /// call record. Runs beside the router, so calls already up are not kept waiting.
    pub(crate) async fn prepare(&self, inc: IncomingCall) -> Prepared {
        let mut notes = Vec::new();
        let plan = match self.plan(&inc, &mut notes).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, call = %inc.call, "routing failed; refusing the call");
                Plan::Reject {
                    status: 503,
                    account: None,
                    direction: "inbound",
                    to: inc.dialled.clone(),
                    why: "routing failed".into(),
                }
            }
        };
        // A phone of ours is who it authenticated as (a browser's SIP user name is a credential,
        // not a number); a carrier's caller is who the carrier says.
        let from = match &inc.caller {
            Caller::User { extension, .. } => extension.clone(),
            Caller::Trunk { .. } => inc.from_user.clone().unwrap_or_else(|| "anonymous".into()),
        };
        let (account, direction, to) = match &plan {
            Plan::Ring { account, direction, to, .. } => (Some(*account), *direction, to.clone()),
            Plan::Dial { account, to, .. } => (
                Some(*account),
                if matches!(inc.caller, Caller::Trunk { .. }) { "inbound" } else { "outbound" },
                to.clone(),
            ),
            Plan::Serve { account, to, .. } => (Some(*account), "inbound", to.clone()),
            Plan::Reject { account, direction, to, .. } => (*account, *direction, to.clone()),
            Plan::Supervise { account, to, .. } => (Some(*account), "internal", to.clone()),
        };
        let record = account.map(|account| {
            let agent = match (&plan, &inc.caller) {
                (Plan::Ring { extension, .. }, _) => Some(extension.clone()),
                // A call an agent placed is theirs (their history, their notes), wherever it went.
                (_, Caller::User { extension, .. }) => Some(extension.clone()),
                _ => None,
            };
            let call = calls::NewCall {
                direction: direction.into(),
                from_number: from.clone(),
                to_number: to.clone(),
                customer_id: None,
                agent_extension: agent,
                ai_agent: match &plan {
                    Plan::Serve { target: Target::AiAgent { name }, .. } => Some(name.clone()),
                    _ => None,
                },
            };
            let key = self.records.create(account, call, as_e164(&from));
            for (kind, data) in notes {
                self.records.event(key, kind, data);
            }
            key
        });
        // Media ports for a call that will be connected or answered.
        let media = match plan {
            Plan::Reject { .. } => None,
            _ => Some(self.bind_media().await),
        };
        Prepared { inc, plan, record, from, to, media }
    }

    /// A call's two media ports (its relay's sides).
    pub(crate) async fn bind_media(&self) -> std::io::Result<(MediaSockets, MediaSockets)> {
        let a = self.pool.bind(self.media_ip).await?;
        Ok((a, self.pool.bind(self.media_ip).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(national: bool, international: bool) -> ClassOfService {
        ClassOfService {
            name: "x".into(),
            description: String::new(),
            allow_internal: true,
            allow_national: national,
            allow_international: international,
            allow_premium: false,
            max_call_minutes: None,
            blocked_prefixes: vec!["+1212555".into()],
            block_outbound: false,
            outbound_hours: None,
        }
    }

    #[test]
    fn class_of_service_decides_who_may_dial_what() {
        let home = "+15555550100";
        assert!(may_dial(None, "+442079460000", home).is_ok());
        let national_only = cos(true, false);
        assert!(may_dial(Some(&national_only), "+12025550123", home).is_ok());
        assert!(may_dial(Some(&national_only), "+442079460000", home).unwrap_err().contains("international"));
        assert!(may_dial(Some(&national_only), "+19005550123", home).unwrap_err().contains("premium"));
        assert!(may_dial(Some(&national_only), "+12125550123", home).unwrap_err().contains("blocked"));
        assert!(may_dial(Some(&cos(false, true)), "+12025550123", home).unwrap_err().contains("national"));
        assert_eq!(as_e164("+1 (202) 555-0123").as_deref(), Some("+12025550123"));
        assert_eq!(as_e164("102"), None);
    }
}
