//! Agents' desk phones, provisioned by MAC address: Switchboard serves each phone its
//! configuration file (the agent's SIP account), protected per phone by a provisioning password
//! (HTTP basic authentication) and/or the addresses it may fetch from.

use super::Problems;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The configuration file format a phone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhoneVendor {
    /// Yealink T-series and compatibles: `{mac}.cfg`.
    Yealink,
    /// Grandstream GXP/GRP and compatibles: `cfg{mac}.xml`.
    Grandstream,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeskPhone {
    /// The phone's MAC address, e.g. `00:15:65:aa:bb:cc` (colons, dashes or none; any case).
    pub mac: String,
    pub vendor: PhoneVendor,
    /// Write-only. The phone fetches its file with HTTP basic authentication: the user name is
    /// the MAC (12 lower-case hex digits), the password this.
    #[serde(default)]
    pub provisioning_password: Option<String>,
    /// Addresses the phone may fetch from: IPs or CIDR blocks (`192.0.2.0/24`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_addresses: Vec<String>,
}

/// A MAC address as 12 lower-case hex digits (None when it is not one).
pub fn normalize_mac(mac: &str) -> Option<String> {
    let hex: String =
        mac.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect::<String>().to_lowercase();
    (hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Whether `ip` is `allowed` (an address, or a CIDR block).
pub fn address_allowed(allowed: &str, ip: IpAddr) -> bool {
    let (net, prefix) = match allowed.split_once('/') {
        Some((n, p)) => (n, p.parse::<u32>().ok()),
        None => (allowed, None),
    };
    let Ok(net) = net.trim().parse::<IpAddr>() else { return false };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = prefix.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = prefix.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn valid_block(s: &str) -> bool {
    let (net, prefix) = match s.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = net.parse::<IpAddr>() else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u32>().is_ok_and(|p| p <= max))
}

impl DeskPhone {
    pub fn check(&self, p: &mut Problems) {
        if normalize_mac(&self.mac).is_none() {
            p.push("mac", "must be a MAC address: 12 hex digits, optionally separated by ':' or '-'");
        }
        if let Some(pw) = &self.provisioning_password {
            if pw.len() < 8 || pw.len() > 128 {
                p.push("provisioning_password", "must be 8 to 128 characters");
            }
        }
        if self.provisioning_password.is_none() && self.allowed_addresses.is_empty() {
            p.push(
                "provisioning_password",
                "a desk phone needs a provisioning password or allowed addresses (or both)",
            );
        }
        p.field("allowed_addresses", |p| {
            for (i, a) in self.allowed_addresses.iter().enumerate() {
                if !valid_block(a) {
                    p.index(i, |p| p.push("", "must be an IP address or a CIDR block such as 192.0.2.0/24"));
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_normalised_and_checked() {
        assert_eq!(normalize_mac("00:15:65:AA:bb:CC").as_deref(), Some("001565aabbcc"));
        assert_eq!(normalize_mac("00-15-65-aa-bb-cc").as_deref(), Some("001565aabbcc"));
        assert_eq!(normalize_mac("001565aabbcc").as_deref(), Some("001565aabbcc"));
        assert_eq!(normalize_mac("00:15:65:aa:bb"), None);
        assert_eq!(normalize_mac("00:15:65:aa:bb:zz"), None);
    }

    #[test]
    fn addresses_match_hosts_and_blocks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(address_allowed("192.0.2.7", ip("192.0.2.7")));
        assert!(!address_allowed("192.0.2.7", ip("192.0.2.8")));
        assert!(address_allowed("192.0.2.0/24", ip("192.0.2.200")));
        assert!(!address_allowed("192.0.2.0/24", ip("192.0.3.1")));
        assert!(address_allowed("10.0.0.0/8", ip("::ffff:10.1.2.3")), "IPv4 seen as IPv6-mapped");
        assert!(address_allowed("2001:db8::/32", ip("2001:db8:1::5")));
        assert!(!address_allowed("not an address", ip("192.0.2.7")));
        assert!(valid_block("192.0.2.0/24") && !valid_block("192.0.2.0/33") && !valid_block("lan"));
    }
}
