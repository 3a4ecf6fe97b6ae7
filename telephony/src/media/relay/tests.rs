//! The relay on real loopback sockets: forwarding and latching; bridged frames, transcoding,
//! digits and quality reports; a side listening in.

use super::*;
use crate::media::endpoint::G711;

#[tokio::test]
async fn relays_both_ways_and_latches() {
    let pool = PortPool::new(40000, 40100);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let (tx, mut digits) = mpsc::unbounded_channel();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), Some(tx)).unwrap();
    assert_ne!(relay.a_local, relay.b_local);
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let phone_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Signalling says B is somewhere else; its real packets correct that (latching).
    relay.update(
        Some(phone_a.local_addr().unwrap()),
        Some("127.0.0.1:9".parse().unwrap()),
        Some(96),
        Some(101),
    );
    let from_b = crate::media::rtp::write(false, 0, 1, 0, 0xb, &[0xff; 160]);
    let from_a = crate::media::rtp::write(false, 0, 1, 0, 0xa, &[0x7f; 160]);
    phone_b.send_to(b"not rtp", relay.b_local).await.unwrap();
    phone_b.send_to(&from_b, relay.b_local).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_a.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // Passed through: the same payload, in the relay's own stream toward A.
    assert_eq!((&buf[12..n], from), (&from_b[12..], relay.a_local));
    assert_ne!(RtpHeader::parse(&buf[..n]).unwrap().ssrc, 0xb);
    phone_a.send_to(&from_a, relay.a_local).await.unwrap();
    let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_b.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[12..n], from), (&from_a[12..], relay.b_local));
    assert_eq!(relay.stats.a_to_b.load(Ordering::Relaxed), 1);
    assert_eq!(relay.stats.b_to_a.load(Ordering::Relaxed), 1);
    // A telephone-event from A: reported once, passed to B with B's payload type.
    for _ in 0..3 {
        phone_a
            .send_to(&crate::media::rtp::write(false, 96, 5, 800, 1, &[9, 0x8a, 0, 160]), relay.a_local)
            .await
            .unwrap();
    }
    let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_b.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(RtpHeader::parse(&buf[..n]).unwrap().payload_type, 101);
    let d = tokio::time::timeout(std::time::Duration::from_secs(2), digits.recv()).await.unwrap().unwrap();
    assert_eq!(d, Digit { side: MediaSide::A, digit: '9', event: true });
}

/// Receives RTP packets on `socket` until `until` says stop, with a deadline.
async fn collect(socket: &UdpSocket, secs: u64, mut until: impl FnMut(&[Vec<u8>]) -> bool) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut buf = [0u8; 2048];
    while !until(&got) {
        match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => got.push(buf[..n].to_vec()),
            _ => break,
        }
    }
    got
}

/// With a tap and a player attached, and PCMU on one side and PCMA on the other, the relay
/// bridges frames: it transcodes, stamps packets with its own SSRC, feeds the tap, plays to
/// its side, sends DTMF both ways (events and tones), and sends RTCP to the port above RTP.
#[tokio::test]
async fn bridges_frames_transcodes_sends_digits_and_reports() {
    let pool = PortPool::new(40200, 40300);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let phone_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // B is a phone with RTP on an even port and RTCP on the port above.
    let MediaSockets { rtp: phone_b, rtcp: rtcp_b } = PortPool::new(40400, 40500).bind(ip).await.unwrap();
    let rtcp_b = rtcp_b.unwrap();
    let a_addr = phone_a.local_addr().unwrap();
    relay.update(Some(a_addr), Some(phone_b.local_addr().unwrap()), None, Some(101));
    relay.set_payload_types(0, 8);
    let mut tap = relay.tap(MediaSide::A);
    // A speaks a 1 kHz tone in PCMU for a second.
    let tone: Vec<i16> = (0..8000).map(|i| ((i as f32 * 0.785).sin() * 10000.0) as i16).collect();
    for (i, chunk) in tone.chunks(160).enumerate() {
        let payload: Vec<u8> = chunk.iter().map(|&s| crate::media::g711::linear_to_ulaw(s)).collect();
        let p = crate::media::rtp::write(false, 0, i as u16, i as u32 * 160, 0xa, &payload);
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let at_b = collect(&phone_b, 2, |got| got.len() >= 30).await;
    assert!(at_b.len() >= 30, "B got {} packets", at_b.len());
    let headers: Vec<RtpHeader> = at_b.iter().filter_map(|p| RtpHeader::parse(p)).collect();
    assert!(headers.iter().all(|h| h.payload_type == 8 && h.ssrc != 0xa), "transcoded, own stream");
    let decoded: Vec<i16> =
        at_b.iter().flat_map(|p| G711::Alaw.decode(RtpHeader::parse(p).unwrap().payload(p))).collect();
    let energy = decoded.iter().map(|&s| (s as f64).abs()).sum::<f64>() / decoded.len() as f64;
    assert!(energy > 3000.0, "B hears A's tone (mean level {energy})");
    let mut tapped = 0;
    while let Ok(frame) = tap.try_recv() {
        assert_eq!(frame.len(), 160);
        tapped += 1;
    }
    assert!(tapped >= 30, "tap got {tapped} frames");
    // Digits: events to B (which negotiated them), tones to A (which did not).
    relay.send_digits(MediaSide::B, "4#");
    relay.send_digits(MediaSide::A, "7");
    let events = collect(&phone_b, 3, |got| {
        got.iter().filter(|p| RtpHeader::parse(p).is_some_and(|h| h.payload_type == 101)).count() >= 14
    })
    .await;
    let mut receiver = crate::media::dtmf::EventReceiver::default();
    let heard: String = events
        .iter()
        .filter_map(|p| RtpHeader::parse(p).map(|h| (h, p)))
        .filter(|(h, _)| h.payload_type == 101)
        .filter_map(|(h, p)| receiver.handle(&h, h.payload(p)))
        .collect();
    assert_eq!(heard, "4#");
    let tones = collect(&phone_a, 3, |got| got.len() >= 12).await;
    let mut detector = crate::media::dtmf::ToneDetector::default();
    let heard: String = tones
        .iter()
        .filter_map(|p| RtpHeader::parse(p).map(|h| G711::Ulaw.decode(h.payload(p))))
        .filter_map(|f| detector.handle_block(&f))
        .collect();
    assert_eq!(heard, "7");
    // RTCP: a sender report reaches B's RTCP port within the first interval or so.
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(8), rtcp_b.recv_from(&mut buf))
        .await
        .expect("an RTCP report")
        .unwrap();
    assert_eq!(from.port(), relay.b_local.port() + 1);
    let reports = rtcp::parse(&buf[..n]);
    assert!(reports[0].sender.is_some_and(|s| s.packets >= 30), "{reports:?}");
    assert!(relay.stats.rtcp_sent.load(Ordering::Relaxed) >= 1);
    let q = relay.quality(MediaSide::A);
    assert_eq!((q.packets_received, q.packets_lost), (50, 0), "{q:?}");
}

/// Power of `hz` in `x` (8 kHz), by the Goertzel algorithm, normalised by length.
fn power(x: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (x.len() as f64).powi(2)
}

/// 20 ms of a sine at `hz` as a PCMU payload.
fn pcmu_tone(hz: f32) -> Vec<u8> {
    (0..160)
        .map(|i| {
            crate::media::g711::linear_to_ulaw(
                ((i as f32 * hz * std::f32::consts::TAU / 8000.0).sin() * 8000.0) as i16,
            )
        })
        .collect()
}

struct Sine(f32, u32);
impl Source for Sine {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let f = (0..160)
            .map(|i| ((self.1 + i) as f32 * self.0 * std::f32::consts::TAU / 8000.0).sin() * 8000.0)
            .map(|v| v as i16)
            .collect();
        self.1 += 160;
        Some(f)
    }
}

/// Listen-in: B hears A's voice and what is played to A (the AI), and A never hears B.
#[tokio::test]
async fn a_side_listening_in_hears_both_and_is_not_heard() {
    let pool = PortPool::new(40600, 40700);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let (phone_a, phone_b) =
        (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    relay.update(Some(phone_a.local_addr().unwrap()), Some(phone_b.local_addr().unwrap()), None, None);
    relay.set_payload_type(0);
    // The AI speaks to A at 440 Hz; B listens in.
    drop(relay.play(MediaSide::A, Box::new(Sine(440.0, 0))));
    relay.monitor(MediaSide::B, true);
    // A says 1 kHz, B says 2 kHz, for a second each.
    for i in 0..50u16 {
        let pa = crate::media::rtp::write(false, 0, i, i as u32 * 160, 0xa, &pcmu_tone(1000.0));
        let pb = crate::media::rtp::write(false, 0, i, i as u32 * 160, 0xb, &pcmu_tone(2000.0));
        phone_a.send_to(&pa, relay.a_local).await.unwrap();
        phone_b.send_to(&pb, relay.b_local).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let decode = |got: Vec<Vec<u8>>| -> Vec<i16> {
        got.iter()
            .filter_map(|p| RtpHeader::parse(p).map(|h| G711::Ulaw.decode(h.payload(p))))
            .flatten()
            .collect()
    };
    let at_b = decode(collect(&phone_b, 2, |got| got.len() >= 60).await);
    let at_a = decode(collect(&phone_a, 2, |got| got.len() >= 60).await);
    let (b_ai, b_caller, b_self) = (power(&at_b, 440.0), power(&at_b, 1000.0), power(&at_b, 2000.0));
    assert!(b_ai > 1e5 && b_caller > 1e5, "the listener hears the AI ({b_ai}) and the caller ({b_caller})");
    assert!(b_self < b_ai / 100.0, "the listener does not hear itself ({b_self})");
    let (a_ai, a_listener) = (power(&at_a, 440.0), power(&at_a, 2000.0));
    assert!(
        a_ai > 1e5 && a_listener < a_ai / 100.0,
        "the caller hears the AI ({a_ai}), never the listener ({a_listener})"
    );
}

/// Recording: the customer's voice on the left, what they hear on the right, one stereo frame
/// per 20 ms even while nobody speaks (times in the file are the call's), and no recording
/// once its receiver is gone.
#[tokio::test]
async fn records_the_customer_left_and_what_they_hear_right() {
    let pool = PortPool::new(40800, 40900);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let (phone_a, phone_b) =
        (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    relay.update(Some(phone_a.local_addr().unwrap()), Some(phone_b.local_addr().unwrap()), None, None);
    relay.set_payload_type(0);
    let mut recorded = relay.record(MediaSide::A);
    // A (the customer) says 1 kHz, B (the agent) 2 kHz, for a second; then half a second of
    // nobody sending anything.
    let started = std::time::Instant::now();
    for i in 0..50u16 {
        let pa = crate::media::rtp::write(false, 0, i, i as u32 * 160, 0xa, &pcmu_tone(1000.0));
        let pb = crate::media::rtp::write(false, 0, i, i as u32 * 160, 0xb, &pcmu_tone(2000.0));
        phone_a.send_to(&pa, relay.a_local).await.unwrap();
        phone_b.send_to(&pb, relay.b_local).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let elapsed_ms = started.elapsed().as_millis() as usize;
    let mut stereo = Vec::new();
    while let Ok(frames) = recorded.try_recv() {
        assert_eq!(frames.len() % 320, 0, "whole stereo frames");
        stereo.extend(frames);
    }
    let (left, right): (Vec<i16>, Vec<i16>) = stereo.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
    let ms = left.len() / 8;
    assert!(ms + 100 >= elapsed_ms && ms <= elapsed_ms + 40, "{ms} ms recorded over {elapsed_ms} ms");
    let (l_own, l_other) = (power(&left, 1000.0), power(&left, 2000.0));
    let (r_own, r_other) = (power(&right, 2000.0), power(&right, 1000.0));
    assert!(l_own > 1e5 && l_other < l_own / 100.0, "left is the customer: {l_own} vs {l_other}");
    assert!(r_own > 1e5 && r_other < r_own / 100.0, "right is what they hear: {r_own} vs {r_other}");
    // The last 300 ms, when nobody sent anything, are silence in both channels.
    let tail = &stereo[stereo.len() - 2 * 8 * 300..];
    assert!(tail.iter().all(|s| *s == 0), "silence while nobody speaks");
    // Dropping the receiver ends the recording; the relay goes on relaying.
    drop(recorded);
    let pa = crate::media::rtp::write(false, 0, 60, 60 * 160, 0xa, &pcmu_tone(1000.0));
    phone_a.send_to(&pa, relay.a_local).await.unwrap();
    assert!(!collect(&phone_b, 2, |got| !got.is_empty()).await.is_empty());
}

/// What a side hears is one stream (one SSRC, consecutive sequence numbers, timestamps that
/// move forward) whether the relay passes packets through, the other side changes source
/// mid-call (a carrier's telephone-events in a second stream), or the relay starts making its
/// own packets (a recording starts): phones drop a new SSRC whose sequence numbers look old.
#[tokio::test]
async fn a_side_hears_one_stream_across_source_changes_and_bridging() {
    let pool = PortPool::new(41000, 41100);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let (phone_a, phone_b) =
        (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    relay.update(
        Some(phone_a.local_addr().unwrap()),
        Some(phone_b.local_addr().unwrap()),
        Some(101),
        Some(101),
    );
    relay.set_payload_type(0);
    // A sends from a high sequence number, then a second source (events) with a low one.
    let mut seq = 60000u16;
    for i in 0..10u32 {
        let p = crate::media::rtp::write(false, 0, seq, 5000 + i * 160, 0xa, &pcmu_tone(1000.0));
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq = seq.wrapping_add(1);
        if i == 5 {
            let e = crate::media::rtp::write(true, 101, 3, 99, 0xe, &[4, 0x0a, 0, 160]);
            phone_a.send_to(&e, relay.a_local).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let passed = collect(&phone_b, 2, |got| got.len() >= 11).await;
    // Then the relay bridges (a recording starts) and A goes on.
    let _recorded = relay.record(MediaSide::A);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for i in 10..30u32 {
        let p = crate::media::rtp::write(false, 0, seq, 5000 + i * 160, 0xa, &pcmu_tone(1000.0));
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq = seq.wrapping_add(1);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let bridged = collect(&phone_b, 2, |got| got.len() >= 20).await;
    let headers: Vec<_> = passed.iter().chain(&bridged).map(|p| RtpHeader::parse(p).unwrap()).collect();
    assert!(headers.len() >= 31, "{} packets", headers.len());
    let ssrcs: std::collections::BTreeSet<_> = headers.iter().map(|h| h.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one stream: {ssrcs:x?}");
    for w in headers.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1), "consecutive sequence numbers");
    }
    let audio: Vec<_> = headers.iter().filter(|h| h.payload_type == 0).map(|h| h.timestamp).collect();
    for w in audio.windows(2) {
        let step = w[1].wrapping_sub(w[0]);
        assert!(step > 0 && step < 8000, "audio timestamps move forward: {audio:?}");
    }
}

/// A phone on loopback that sends a sine at `hz` (PCMU, 20 ms packets) to `to` while it keeps
/// what it receives; `hz` 0 sends silence.
struct TonePhone {
    socket: Arc<UdpSocket>,
    heard: Arc<Mutex<Vec<i16>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TonePhone {
    async fn start(hz: f32, to: SocketAddr) -> TonePhone {
        Self::start_at(hz, to, 8000.0).await
    }

    /// At a given amplitude (a mix of many loud tones clips, and clipping makes tones of its own).
    async fn start_at(hz: f32, to: SocketAddr, amplitude: f32) -> TonePhone {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (s, h) = (socket.clone(), heard.clone());
        let receiving = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, _)) = s.recv_from(&mut buf).await {
                if let Some(rtp) = RtpHeader::parse(&buf[..n]) {
                    let samples = crate::media::endpoint::G711::Ulaw.decode(rtp.payload(&buf[..n]));
                    h.lock().unwrap().extend(samples);
                }
            }
        });
        let s = socket.clone();
        let sending = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
            for k in 0u32.. {
                tick.tick().await;
                let frame: Vec<i16> = (0..160)
                    .map(|i| {
                        let t = (k * 160 + i) as f32 / 8000.0;
                        (amplitude * (std::f32::consts::TAU * hz * t).sin()) as i16
                    })
                    .collect();
                let payload = crate::media::endpoint::G711::Ulaw.encode(&frame);
                let packet =
                    crate::media::rtp::write(false, 0, k as u16, k * 160, 0x5eed + hz as u32, &payload);
                let _ = s.send_to(&packet, to).await;
            }
        });
        TonePhone { socket, heard, tasks: vec![receiving, sending] }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// Relative power at `hz` over what was heard in the last second.
    fn power(&self, hz: f32) -> f32 {
        let heard = self.heard.lock().unwrap();
        let tail = &heard[heard.len().saturating_sub(8000)..];
        crate::media::dtmf::goertzel(tail, hz, 8000.0) / tail.len().max(1) as f32
    }

    fn hears(&self, hz: f32) -> bool {
        self.power(hz) > 1.0
    }
}

impl Drop for TonePhone {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

/// Three parties over two relays (a call's caller and agent, and a third call's callee) in one
/// bridge: each hears both others and not itself; a muted party is heard by nobody and still
/// hears; a side taken out of the conference is heard by nobody.
#[tokio::test]
async fn a_conference_over_two_relays_mixes_minus_each_party_and_mutes_in_the_mixer() {
    let pool = PortPool::new(40700, 40800);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let x = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let y = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap();
    let caller = TonePhone::start(500.0, x.a_local).await;
    let agent = TonePhone::start(900.0, x.b_local).await;
    let third = TonePhone::start(1300.0, y.b_local).await;
    x.update(Some(caller.addr()), Some(agent.addr()), None, None);
    y.update(None, Some(third.addr()), None, None);
    let bridge = crate::media::conference::Bridge::start();
    let mut ids = Vec::new();
    for (relay, side) in [(&x, MediaSide::A), (&x, MediaSide::B), (&y, MediaSide::B)] {
        let (id, port) = bridge.join();
        relay.join(side, Some(port));
        ids.push(id);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let who = [(&caller, 500.0), (&agent, 900.0), (&third, 1300.0)];
    for (phone, own) in who {
        for (_, other) in who {
            let power = phone.power(other);
            if other == own {
                assert!(power < 0.05, "a party hears itself at {other} Hz: {power}");
            } else {
                assert!(power > 1.0, "the party at {own} Hz does not hear {other} Hz: {power}");
            }
        }
    }
    // The agent muted: nobody hears 900 Hz, and the agent still hears both.
    bridge.mute(ids[1], true);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert!(!caller.hears(900.0) && !third.hears(900.0), "a muted party is heard");
    assert!(agent.hears(500.0) && agent.hears(1300.0), "a muted party hears nobody");
    assert!(caller.hears(1300.0) && third.hears(500.0));
    // The agent leaves the conference (their side taken out): the others go on without them.
    bridge.mute(ids[1], false);
    x.join(MediaSide::B, None);
    bridge.leave(ids[1]);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert!(caller.hears(1300.0) && third.hears(500.0));
    assert!(!caller.hears(900.0) && !third.hears(900.0));
    assert_eq!(bridge.stats.parties.load(Ordering::Relaxed), 2);
}

/// Six parties (four calls: two with both people in, two with one) each hear the five others
/// and not themselves; a muted one is heard by nobody.
#[tokio::test]
async fn six_parties_each_hear_the_five_others() {
    let pool = PortPool::new(40900, 41100);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let bridge = crate::media::conference::Bridge::start();
    let tones = [400.0, 650.0, 900.0, 1150.0, 1400.0, 1650.0];
    // (relay, side) per party: calls 0 and 3 have both people in the conference.
    let layout = [
        (0, MediaSide::A),
        (0, MediaSide::B),
        (1, MediaSide::B),
        (2, MediaSide::B),
        (3, MediaSide::A),
        (3, MediaSide::B),
    ];
    let mut relays = Vec::new();
    for _ in 0..4 {
        relays.push(Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), None).unwrap());
    }
    let mut phones = Vec::new();
    let mut ids = Vec::new();
    for (&(r, side), &hz) in layout.iter().zip(&tones) {
        let relay = &relays[r];
        let local = if side == MediaSide::A { relay.a_local } else { relay.b_local };
        let phone = TonePhone::start_at(hz, local, 5000.0).await;
        let addr = Some(phone.addr());
        match side {
            MediaSide::A => relay.update(addr, None, None, None),
            MediaSide::B => relay.update(None, addr, None, None),
        }
        let (id, port) = bridge.join();
        relay.join(side, Some(port));
        phones.push(phone);
        ids.push(id);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for (i, phone) in phones.iter().enumerate() {
        for (j, &hz) in tones.iter().enumerate() {
            let power = phone.power(hz);
            if i == j {
                assert!(power < 0.05, "party {i} hears itself: {power}");
            } else {
                assert!(power > 0.3, "party {i} does not hear party {j} ({hz} Hz): {power}");
            }
        }
    }
    bridge.mute(ids[3], true);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    for (i, phone) in phones.iter().enumerate().filter(|(i, _)| *i != 3) {
        assert!(phone.power(tones[3]) < 0.05, "party {i} hears the muted party");
    }
    assert!(phones[3].hears(tones[0]) && phones[3].hears(tones[5]), "the muted party still hears");
    assert_eq!(bridge.stats.parties.load(Ordering::Relaxed), 6);
}

/// Taking a card number: while A is masked its in-band tones and telephone-events are reported
/// on the digit channel and reach nobody else (B, the recording, a tap hear silence; B gets no
/// event packets), and A is heard again once unmasked.
#[tokio::test]
async fn a_masked_side_is_heard_by_nobody_and_its_digits_only_reported() {
    use crate::media::player::Tone;
    let pool = PortPool::new(41200, 41300);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let (tx, mut digits) = mpsc::unbounded_channel();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), Some(tx)).unwrap();
    let (phone_a, phone_b) =
        (UdpSocket::bind("127.0.0.1:0").await.unwrap(), UdpSocket::bind("127.0.0.1:0").await.unwrap());
    relay.update(Some(phone_a.local_addr().unwrap()), Some(phone_b.local_addr().unwrap()), None, None);
    relay.set_payload_type(0);
    relay.mask(MediaSide::A, true);
    let mut recorded = relay.record(MediaSide::A);
    let mut tapped = relay.tap(MediaSide::A);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // A keys 5 as a tone (no telephone-events negotiated yet), then says 1 kHz.
    let mut seq = 0u16;
    let mut frames: Vec<Vec<i16>> = Vec::new();
    let mut tone = Tone::dtmf(8000, '5', 120).unwrap();
    while let Some(f) = tone.next_frame() {
        frames.push(f);
    }
    frames.extend((0..10).map(|_| vec![0i16; 160]));
    for f in &frames {
        let p = crate::media::rtp::write(false, 0, seq, seq as u32 * 160, 0xa, &G711::Ulaw.encode(f));
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for _ in 0..25 {
        let p = crate::media::rtp::write(false, 0, seq, seq as u32 * 160, 0xa, &pcmu_tone(1000.0));
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let d = tokio::time::timeout(std::time::Duration::from_secs(2), digits.recv()).await.unwrap().unwrap();
    assert_eq!((d.side, d.digit, d.event), (MediaSide::A, '5', false));
    // Now with telephone-events: A keys 7, reported and not passed on.
    relay.update(None, None, Some(96), Some(101));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for end in [false, false, true, true, true] {
        let flags = if end { 0x8a } else { 0x0a };
        let p = crate::media::rtp::write(false, 96, seq, 9000 * 160, 0xa, &[7, flags, 0, 160]);
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq += 1;
    }
    let d = tokio::time::timeout(std::time::Duration::from_secs(2), digits.recv()).await.unwrap().unwrap();
    assert_eq!((d.digit, d.event), ('7', true));
    let at_b = collect(&phone_b, 1, |_| false).await;
    assert!(at_b.iter().all(|p| RtpHeader::parse(p).unwrap().payload_type == 0), "no event reached B");
    let heard: Vec<i16> = at_b
        .iter()
        .filter_map(|p| RtpHeader::parse(p).map(|h| G711::Ulaw.decode(h.payload(p))))
        .flatten()
        .collect();
    let mut taps = Vec::new();
    while let Ok(f) = tapped.try_recv() {
        taps.extend(f);
    }
    let mut left = Vec::new();
    while let Ok(f) = recorded.try_recv() {
        left.extend(f.chunks_exact(2).map(|p| p[0]));
    }
    for (what, audio) in [("B", &heard), ("the tap", &taps), ("the recording", &left)] {
        assert!(!audio.is_empty(), "{what} got frames");
        assert!(audio.iter().all(|s| s.abs() < 16), "{what} heard only silence");
    }
    // Unmasked, A is heard again.
    relay.mask(MediaSide::A, false);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for _ in 0..25 {
        let p = crate::media::rtp::write(false, 0, seq, seq as u32 * 160, 0xa, &pcmu_tone(1000.0));
        phone_a.send_to(&p, relay.a_local).await.unwrap();
        seq += 1;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let at_b = collect(&phone_b, 1, |_| false).await;
    let heard: Vec<i16> = at_b
        .iter()
        .filter_map(|p| RtpHeader::parse(p).map(|h| G711::Ulaw.decode(h.payload(p))))
        .flatten()
        .collect();
    assert!(power(&heard, 1000.0) > 1e5, "A is heard once unmasked");
}

/// A call turned around (the blind transfer of a placed call): the person called keeps
/// talking to the port they know, which is side A now (their digits are A's); the one who left
/// hears nothing more; whoever is connected next is side B, on the other port.
#[tokio::test]
async fn a_call_turned_around_keeps_the_person_called_on_their_port() {
    let pool = PortPool::new(40400, 40500);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let (tx, mut digits) = mpsc::unbounded_channel();
    let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), Some(tx)).unwrap();
    let agent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let called = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let next = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    relay.update(Some(agent.local_addr().unwrap()), Some(called.local_addr().unwrap()), None, Some(101));
    let from_called = crate::media::rtp::write(false, 0, 1, 0, 0xc, &[0x11; 160]);
    called.send_to(&from_called, relay.b_local).await.unwrap();
    let got = collect(&agent, 2, |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1, "before: the agent hears the person called");

    relay.turn_around();
    relay.update(None, Some(next.local_addr().unwrap()), None, None);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for seq in 2..5u16 {
        let p = crate::media::rtp::write(false, 0, seq, seq as u32 * 160, 0xc, &[0x22; 160]);
        called.send_to(&p, relay.b_local).await.unwrap();
    }
    let got = collect(&next, 2, |g| g.len() >= 3).await;
    assert_eq!(got.len(), 3, "the next person hears them");
    assert!(got.iter().all(|p| p[12..] == [0x22; 160]));
    let from_next = crate::media::rtp::write(false, 0, 1, 0, 0xd, &[0x33; 160]);
    next.send_to(&from_next, relay.a_local).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(2), called.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&buf[12..n], from),
        (&[0x33u8; 160][..], relay.b_local),
        "they hear the next person on their port"
    );
    assert!(collect(&agent, 1, |g| !g.is_empty()).await.is_empty(), "the one who left hears nothing");
    // Their keypad is the caller's now.
    for _ in 0..3 {
        called
            .send_to(&crate::media::rtp::write(false, 101, 9, 800, 0xc, &[4, 0x8a, 0, 160]), relay.b_local)
            .await
            .unwrap();
    }
    let d = tokio::time::timeout(std::time::Duration::from_secs(2), digits.recv()).await.unwrap().unwrap();
    assert_eq!(d, Digit { side: MediaSide::A, digit: '4', event: true });
}
