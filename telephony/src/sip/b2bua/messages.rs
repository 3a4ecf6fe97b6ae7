//! Requests and responses built from a leg's dialog state.

use super::{Inbound, Outbound};
use crate::sip::message::{Method, Request, Response};
use std::net::SocketAddr;

pub(super) fn reject(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, Some("sb"));
    r.reason = reason.to_string();
    r
}

/// CANCEL for an outbound INVITE (same branch, Request-URI, Call-ID, From, To and CSeq number).
pub(super) fn cancel_of(o: &Outbound) -> (SocketAddr, Request) {
    let mut req = Request::new(Method::Cancel, o.invite.uri.clone());
    for h in ["Via", "From", "To", "Call-ID"] {
        if let Some(v) = o.invite.headers.get(h) {
            req.headers.push(h, v);
        }
    }
    // The same route as the INVITE (RFC 3261 §9.1).
    for r in o.invite.headers.lines("Route") {
        req.headers.push("Route", r);
    }
    req.headers.push("Max-Forwards", "70");
    req.headers.push("CSeq", format!("{} CANCEL", o.cseq));
    (o.peer, req)
}

/// A new request of ours inside an outbound leg's dialog (BYE, NOTIFY): the next CSeq, to the
/// remote target, with `via` on top.
pub(super) fn in_dialog(o: &mut Outbound, method: Method, via: String) -> Request {
    o.cseq += 1;
    let mut req = Request::new(method.clone(), o.remote_target.clone().unwrap_or_else(|| o.contact.clone()));
    req.headers.push("Via", via);
    req.headers.push("Max-Forwards", "70");
    req.headers.push("From", format!("{};tag={}", o.from, o.local_tag));
    req.headers.push("To", format!("{};tag={}", o.to, o.remote_tag.clone().unwrap_or_default()));
    req.headers.push("Call-ID", o.call_id.clone());
    req.headers.push("CSeq", format!("{} {method}", o.cseq));
    req
}

/// A new request of ours inside the caller's dialog (BYE, NOTIFY), where we are the UAS: our
/// tag in From, theirs in To, the next CSeq of ours, to their target.
pub(super) fn in_caller_dialog(inbound: &mut Inbound, method: Method, via: String) -> Request {
    inbound.local_cseq += 1;
    let inv = &inbound.invite;
    let mut req = Request::new(method.clone(), inbound.remote_target.clone());
    req.headers.push("Via", via);
    req.headers.push("Max-Forwards", "70");
    req.headers
        .push("From", format!("{};tag={}", inv.headers.get("To").unwrap_or_default(), inbound.local_tag));
    req.headers.push("To", inv.headers.get("From").unwrap_or_default());
    req.headers.push("Call-ID", inbound.call_id.clone());
    req.headers.push("CSeq", format!("{} {method}", inbound.local_cseq));
    req
}

/// Makes `req` (a NOTIFY) the one that ends a REFER's implicit subscription with the transfer's
/// outcome (RFC 3515 §2.4.5: a sipfrag status line).
pub(super) fn refer_outcome(req: &mut Request, contact: String, status: u16) {
    req.headers.push("Contact", contact);
    req.headers.push("Event", "refer");
    req.headers.push("Subscription-State", "terminated;reason=noresource");
    req.headers.push("Content-Type", "message/sipfrag;version=2.0");
    let reason = crate::sip::message::reason_phrase(status);
    req.body = format!("SIP/2.0 {status} {reason}\r\n").into_bytes();
}

/// ACK for a non-2xx final response: same branch as the INVITE, To with the response's tag.
pub(super) fn ack_non_2xx(o: &Outbound, resp: &Response) -> Vec<u8> {
    let mut ack = Request::new(Method::Ack, o.invite.uri.clone());
    for h in ["Via", "From", "Call-ID"] {
        if let Some(v) = o.invite.headers.get(h) {
            ack.headers.push(h, v);
        }
    }
    ack.headers.push("To", resp.headers.get("To").unwrap_or_default());
    for r in o.invite.headers.lines("Route") {
        ack.headers.push("Route", r);
    }
    ack.headers.push("Max-Forwards", "70");
    ack.headers.push("CSeq", format!("{} ACK", o.cseq));
    ack.to_bytes()
}
