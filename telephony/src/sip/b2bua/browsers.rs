//! Browsers' sides of calls: the WebRTC leg's answer to a browser caller, our offer to the
//! browsers rung, and where the relay reaches a browser (see `WebRtcMedia`).

use super::*;

impl B2bua {
    /// Lets browsers call and be called (see [`WebRtcMedia`]).
    pub fn set_webrtc(&mut self, media: Box<dyn WebRtcMedia>) {
        self.webrtc = Some(media);
    }

    /// Our answer to a browser caller's offer (made once per call).
    pub(super) fn webrtc_for_caller(&mut self, id: CallId, relay: SocketAddr) -> Option<WebRtcSide> {
        let call = self.calls.get(&id)?;
        if let Some(side) = &call.webrtc_a {
            return Some(side.clone());
        }
        let offer = String::from_utf8_lossy(&call.inbound.invite.body).into_owned();
        let made = self.webrtc.as_mut()?.answer(id, Side::Caller, relay, &offer);
        match made {
            Ok(side) => {
                self.calls.get_mut(&id)?.webrtc_a = Some(side.clone());
                Some(side)
            }
            Err(e) => {
                tracing::info!(%id, error = %e, "cannot answer a browser's offer");
                None
            }
        }
    }

    /// Our offer to the browsers rung for a call (one, shared by all of them).
    pub(super) fn webrtc_for_callee(&mut self, id: CallId, relay: SocketAddr) -> Option<WebRtcSide> {
        let call = self.calls.get(&id)?;
        if let Some(side) = &call.webrtc_b {
            return Some(side.clone());
        }
        match self.webrtc.as_mut()?.offer(id, Side::Callee, relay) {
            Ok(side) => {
                self.calls.get_mut(&id)?.webrtc_b = Some(side.clone());
                Some(side)
            }
            Err(e) => {
                tracing::info!(%id, error = %e, "cannot make an offer for a browser");
                None
            }
        }
    }

    /// Where the relay reaches the caller's media: the browser's WebRTC leg, or the address in
    /// the caller's offer.
    pub(super) fn caller_media(call: &Call) -> Option<SocketAddr> {
        match &call.webrtc_a {
            Some(side) => Some(side.relay_peer),
            // A call we placed has nobody on the caller's side (our own offer stands there).
            None if call.originated => None,
            None => call.inbound.offer.remote(),
        }
    }

    /// The browser side of the caller is over (they left a call that goes on): its leg goes.
    pub(super) fn release_caller_browser(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.webrtc_a.take().is_some() {
            if let Some(media) = self.webrtc.as_mut() {
                media.release(id, Some(Side::Caller));
            }
        }
    }

    /// The browser side of the callee is over (nobody answered, or the person left a call we
    /// keep): its leg goes.
    pub(super) fn release_callee_browser(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.webrtc_b.take().is_some() {
            if let Some(media) = self.webrtc.as_mut() {
                media.release(id, Some(Side::Callee));
            }
        }
    }
}
