//! A browser (a str0m peer with full ICE, DTLS and Opus) on one side of a real relay, through
//! the WebRTC gateway, and a PCMU phone on the other: audio both ways through the relay's own
//! loop, and a released browser side is taken off the relay.

use crate::media::gateway::{Gateways, WebRtcConfig};
use crate::media::relay::{PortPool, Relay};
use crate::media::rtp::{self, RtpHeader};
use crate::media::webrtc_peer::WebRtcPeer;
use crate::sip::b2bua::{CallId, Side, WebRtcMedia};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Runs the peer on its socket for `ms`, sending a frame every 20 ms when `talk`.
async fn run_peer(peer: &mut WebRtcPeer, socket: &UdpSocket, base: Instant, ms: u64, talk: bool) {
    let now_ms = || base.elapsed().as_millis() as u64;
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut buf = vec![0u8; 2048];
    while tokio::time::Instant::now() < end {
        let wake = tokio::time::Instant::from_std(base + Duration::from_millis(peer.poll_timeout()));
        tokio::select! {
            r = socket.recv_from(&mut buf) => if let Ok((n, from)) = r {
                peer.handle_datagram(now_ms(), from, &buf[..n]);
            },
            _ = tokio::time::sleep_until(wake) => peer.handle_timeout(now_ms()),
            _ = tick.tick() => if talk { peer.send_frame(now_ms()) },
            _ = tokio::time::sleep_until(end) => {}
        }
        while let Some((to, bytes)) = peer.poll_transmit() {
            let _ = socket.send_to(&bytes, to).await;
        }
    }
}

/// Counts the phone's packets for `ms` while it sends PCMU silence every 20 ms to `relay`.
async fn run_phone(phone: &UdpSocket, relay: SocketAddr, ms: u64) -> Vec<Vec<u8>> {
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut got, mut seq, mut buf) = (Vec::new(), 0u16, vec![0u8; 2048]);
    loop {
        tokio::select! {
            r = phone.recv_from(&mut buf) => if let Ok((n, _)) = r { got.push(buf[..n].to_vec()) },
            _ = tick.tick() => {
                let packet = rtp::write(false, 0, seq, seq as u32 * 160, 0xfeed, &[0xff; 160]);
                let _ = phone.send_to(&packet, relay).await;
                seq = seq.wrapping_add(1);
            }
            _ = tokio::time::sleep_until(end) => return got,
        }
    }
}

#[tokio::test]
async fn a_browser_on_a_relay_side_talks_with_a_phone_and_is_released() {
    let ip: IpAddr = [127, 0, 0, 1].into();
    let pool = Arc::new(PortPool::new(42000, 42200));
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let mut gateways = Gateways::new(WebRtcConfig {
        pool: pool.clone(),
        bind: ip,
        advertise: None,
        codecs: Default::default(),
    });
    let base = Instant::now();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (mut peer, offer) = WebRtcPeer::offer(base, 0, socket.local_addr().unwrap()).unwrap();
    let side = gateways.answer(CallId(7), Side::Caller, relay.a_local, &offer).unwrap();
    peer.accept_answer(&side.sdp).unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    relay.update(Some(side.relay_peer), Some(phone.local_addr().unwrap()), None, None);
    relay.set_payload_type(0);

    // Two seconds of talk both ways.
    let (_, got) =
        tokio::join!(run_peer(&mut peer, &socket, base, 2000, true), run_phone(&phone, relay.b_local, 2000));
    assert!(peer.is_connected(), "ICE and DTLS came up with the relay's side");
    let audio: Vec<_> =
        got.iter().filter_map(|p| RtpHeader::parse(p).filter(|h| h.payload_type == 0)).collect();
    assert!(audio.len() > 50, "the phone got {} PCMU packets from the browser", audio.len());
    assert!(peer.received > 50, "the browser got {} packets from the phone", peer.received);
    // What reaches the phone is the browser's 440 Hz tone, decoded from Opus and sent as PCMU.
    let last = got.iter().rev().find(|p| RtpHeader::parse(p).is_some_and(|h| h.payload_type == 0)).unwrap();
    let h = RtpHeader::parse(last).unwrap();
    let samples = crate::media::endpoint::G711::Ulaw.decode(h.payload(last));
    let crossings = samples.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!((14..=21).contains(&crossings), "{crossings} zero crossings in 20 ms of 440 Hz");
    // The relay's own socket for the browser's side carried none of it: the browser's packets
    // are read in the relay's loop from the browser's socket.
    assert_ne!(side.relay_peer, relay.a_local);

    // Released (a desk phone answered instead, or the browser left): the relay stops sending
    // to the browser, and its socket closes.
    gateways.release(CallId(7), Some(Side::Caller));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = peer.received;
    let (_, _) =
        tokio::join!(run_peer(&mut peer, &socket, base, 600, false), run_phone(&phone, relay.b_local, 600));
    assert!(peer.received <= before + 2, "the released browser still got {} packets", peer.received - before);
    drop(relay);
}
