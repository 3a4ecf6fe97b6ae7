//! RTP packets (RFC 3550): header parsing and writing, sans-IO.

/// A parsed RTP header and where its payload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Offset of the payload in the packet.
    pub payload_offset: usize,
    /// Bytes of padding at the end (excluded from the payload).
    pub padding: usize,
}

impl RtpHeader {
    /// Parses a packet; `None` for anything that is not RTP version 2 or is truncated.
    pub fn parse(packet: &[u8]) -> Option<RtpHeader> {
        if packet.len() < 12 || packet[0] >> 6 != 2 {
            return None;
        }
        let csrc = (packet[0] & 0x0F) as usize;
        let mut offset = 12 + 4 * csrc;
        if packet[0] & 0x10 != 0 {
            let ext = packet.get(offset + 2..offset + 4)?;
            offset += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
        }
        let padding = if packet[0] & 0x20 != 0 { *packet.last()? as usize } else { 0 };
        if offset + padding > packet.len() {
            return None;
        }
        Some(RtpHeader {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7F,
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            payload_offset: offset,
            padding,
        })
    }

    /// The payload of the packet this header was parsed from (empty for any other packet
    /// too short for it).
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .len()
            .checked_sub(self.padding)
            .and_then(|end| packet.get(self.payload_offset..end))
            .unwrap_or_default()
    }

    /// RTCP shares ports with RTP when multiplexed (RFC 5761): payload types 64-95 with the
    /// marker bit are RTCP packet types 192-223.
    pub fn is_rtcp(packet: &[u8]) -> bool {
        packet.len() >= 2 && (192..=223).contains(&packet[1])
    }
}

/// Writes a header (no CSRC, no extension) followed by `payload`.
pub fn write(
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(((marker as u8) << 7) | (payload_type & 0x7F));
    p.extend_from_slice(&sequence.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_junk() {
        let p = write(true, 101, 7, 160, 0xdead, &[1, 2, 3, 4]);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!((h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc), (true, 101, 7, 160, 0xdead));
        assert_eq!(h.payload(&p), &[1, 2, 3, 4]);
        assert!(RtpHeader::parse(&p[..11]).is_none());
        assert!(RtpHeader::parse(&[0x40; 20]).is_none());
        // Claimed extension and padding beyond the end are refused, not sliced.
        let mut ext = p.clone();
        ext[0] |= 0x10;
        assert!(RtpHeader::parse(&ext).is_none());
        let mut pad = p.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 200;
        assert!(RtpHeader::parse(&pad).is_none());
        for n in 0..p.len() {
            let _ = RtpHeader::parse(&p[..n]);
        }
    }
}
