//! G.711 μ-law (PCMU) and A-law (PCMA), ITU-T G.711 with the usual bias and segment tables.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// 16-bit linear to μ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = sample as i32;
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (31 - (s as u32).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// μ-law to 16-bit linear.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// 16-bit linear to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = sample as i32 >> 3;
    let sign = if s >= 0 {
        0xD5
    } else {
        s = -s - 1;
        0x55
    };
    let s = s.min(0x0FFF);
    let code = if s < 32 {
        (s >> 1) as u8
    } else {
        let exponent = 31 - (s as u32).leading_zeros() as i32 - 4;
        ((exponent << 4) as u8) | (((s >> exponent) & 0x0F) as u8)
    };
    code ^ sign
}

/// A-law to 16-bit linear.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = ((b >> 4) & 0x07) as i32;
    let mantissa = (b & 0x0F) as i32;
    let magnitude =
        if exponent == 0 { (mantissa << 4) + 8 } else { ((mantissa << 4) + 0x108) << (exponent - 1) };
    (if b & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_round_trip_is_close_everywhere() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let back = ulaw_to_linear(linear_to_ulaw(s)) as i32;
            let tolerance = (s as i32).abs() / 16 + 16;
            assert!((back - s as i32).abs() <= tolerance.max(140), "{s} -> {back}");
        }
        // Known values: silence and full scale.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
    }

    #[test]
    fn alaw_round_trip_is_close_everywhere() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let back = alaw_to_linear(linear_to_alaw(s)) as i32;
            let tolerance = (s as i32).abs() / 16 + 16;
            assert!((back - s as i32).abs() <= tolerance.max(140), "{s} -> {back}");
        }
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn every_code_decodes_and_reencodes_to_itself() {
        for b in 0..=255u8 {
            // 0x7F and 0xFF both mean zero in μ-law (negative and positive zero).
            let u = linear_to_ulaw(ulaw_to_linear(b));
            assert!(u == b || (ulaw_to_linear(u) == ulaw_to_linear(b)), "μ-law {b:#x} -> {u:#x}");
            assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "A-law {b:#x}");
        }
    }
}
