//! Which network addresses a webhook may reach. A subscriber names the URL,
//! and the node POSTs to it from inside the operator's network: without a
//! rule, a stakeholder could make the node call its own loopback services,
//! the cloud metadata endpoint (169.254.169.254) or hosts of the private
//! network (server-side request forgery). By default webhooks reach public
//! addresses only:
//!
//! - an IP literal in the URL is checked when subscribing and before every
//!   attempt;
//! - a host name is resolved by [`PublicResolver`], the resolver of the HTTP
//!   client itself, which hands the connection only the public addresses (so
//!   a name that resolves elsewhere at delivery time, DNS rebinding included,
//!   cannot reach them); `localhost` names are refused when subscribing;
//! - redirects are never followed (see `webhook`).
//!
//! A node whose subscribers are on its own network (tests, a lab, the demo)
//! allows private addresses in its configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The kind of a non-public address, for refusals; `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) => "private (10.0.0.0/8)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (169, 254, _) => "link-local (169.254.0.0/16, cloud metadata)",
        (100, 64..=127, _) => "shared (100.64.0.0/10, carrier-grade NAT)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (::)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
        // IPv4-compatible (deprecated) and NAT64 addresses carry an IPv4 one.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let v4 = Ipv4Addr::new(
                (s[6] >> 8) as u8,
                (s[6] & 0xff) as u8,
                (s[7] >> 8) as u8,
                (s[7] & 0xff) as u8,
            );
            return non_public_v4(v4);
        }
        [x, ..] if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast",
        [0x2001, 0x0db8, ..] => "documentation (2001:db8::/32)",
        _ => return None,
    })
}

/// Why a webhook URL's host may not be reached, if it is an IP literal that
/// is not public, or a `localhost` name.
pub fn refused_host(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return non_public(ip).map(|k| format!("{ip} is a {k} address"));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost"))
        .then(|| format!("{name} is a loopback name"))
}

/// A resolver for the webhook client that answers a name's public
/// addresses only (an error when it has none), so that the address checked
/// is the address connected to.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| non_public(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                let kinds: Vec<String> = all
                    .iter()
                    .filter_map(|a| non_public(a.ip()).map(|k| format!("{} ({k})", a.ip())))
                    .collect();
                return Err(format!(
                    "{host} resolves to no public address ({}); webhooks reach public addresses only",
                    kinds.join(", ")
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        let non_public_cases = [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.7",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ];
        for ip in non_public_cases {
            let ip: IpAddr = ip.parse().expect(ip);
            assert!(non_public(ip).is_some(), "{ip} counted as public");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().expect(ip);
            assert_eq!(non_public(ip), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn the_resolver_hands_out_public_addresses_only() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        let e = match PublicResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("resolves to no public address"), "{e}");
        assert!(e.contains("loopback"), "{e}");
    }

    #[test]
    fn urls_naming_local_hosts_are_refused() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/x",
            "http://[::ffff:10.0.0.5]/x",
            "http://localhost:9000/",
            "http://api.localhost/",
            "http://LOCALHOST./",
        ] {
            let u = reqwest::Url::parse(url).expect(url);
            assert!(refused_host(&u).is_some(), "{url} accepted");
        }
        for url in ["https://hooks.example.com/x", "http://8.8.8.8/"] {
            let u = reqwest::Url::parse(url).expect(url);
            assert_eq!(refused_host(&u), None, "{url}");
        }
    }
}
