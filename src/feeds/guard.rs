//! The SSRF guard: which addresses a feed fetch may connect to. User-given URLs
//! (`/addfeed`) and redirects must never reach loopback, private or link-local
//! addresses unless the operator allowed it in config. The decision is a pure function;
//! the resolver below applies it to every address DNS returns, so a public name that
//! resolves to a private address (DNS rebinding) is refused too.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local
        || (first & 0xfe00) == 0xfc00
        // fe80::/10 link local
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32 documentation
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Whether a URL's host, if it is an IP literal, may be fetched. Names are checked by
/// [`GuardedResolver`] when they are resolved.
pub fn check_url(url: &url::Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(format!(
                    "{url} points at this machine; private addresses are not allowed"
                ));
            }
            return Ok(());
        }
        None => return Err(format!("{url} has no host")),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "{url} points at the private address {ip}; private addresses are not allowed"
        ))
    }
}

/// A DNS resolver that drops every non-public address from the answer.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let message =
                    format!("{host} resolves only to private addresses, which are not allowed");
                return Err(message.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        let refused = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::",
        ];
        for ip in refused {
            assert!(
                !is_public(ip.parse().expect("ip")),
                "{ip} should be refused"
            );
        }
        for ip in [
            "151.101.1.140",
            "8.8.8.8",
            "172.32.0.1",
            "2a00:1450:4002::65",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip} should be allowed");
        }
    }

    #[test]
    fn urls_are_checked_by_their_literal_host() {
        let check = |raw: &str, allow| check_url(&url::Url::parse(raw).expect("url"), allow);
        assert!(check("http://127.0.0.1:8080/feed", false).is_err());
        assert!(check("http://[::1]/feed", false).is_err());
        assert!(check("http://localhost/feed", false).is_err());
        assert!(check("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check("https://www.redhotcyber.com/feed/", false).is_ok());
        assert!(check("http://127.0.0.1:8080/feed", true).is_ok());
    }
}
