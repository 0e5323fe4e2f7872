//! Where webhooks may go: `http` or `https`, no user-info, and never an
//! address inside the network (loopback, private, link-local, unique-local,
//! shared, multicast, broadcast, unspecified or reserved), in any notation.
//!
//! A target is checked twice. When it is registered, [`check`] parses it with
//! the WHATWG URL parser of the `url` crate, which reads every IPv4 notation
//! a browser or resolver would (`127.1`, `0x7f000001`, `2130706433`,
//! `0177.0.0.1`, percent-encoded or full-width digits) as the address it
//! means, so the address check sees what a connection would reach. When it is
//! delivered, [`CheckedResolver`] resolves the host and refuses it if any of
//! its addresses is forbidden, and the connection goes to the addresses it
//! checked: a name that pointed outside at registration and inside later is
//! caught. The delivering client follows no redirects and uses no proxy.
//!
//! `WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE=true` lifts the address checks (not the
//! scheme and user-info ones) for development and tests; production refuses
//! to start with it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
use url::{Host, Url};

/// Why a webhook target is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute URL.
    NotAUrl,
    /// A scheme other than `http` or `https`.
    Scheme,
    /// The URL carries a user name or password.
    UserInfo,
    /// The host is an address inside the network.
    Address,
    /// The host is a name for this machine (`localhost`, `*.localhost`).
    LocalName,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NotAUrl => "webhook target is not an absolute URL",
            Refusal::Scheme => "webhook target is neither http nor https",
            Refusal::UserInfo => "webhook target carries user-info",
            Refusal::Address => "webhook target is an address inside the network",
            Refusal::LocalName => "webhook target names this machine, inside the network",
        })
    }
}

impl Refusal {
    /// The stable reason, answered in the issue's `params`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::NotAUrl => "not_an_http_url",
            Refusal::Scheme => "scheme_not_http",
            Refusal::UserInfo => "user_info",
            Refusal::Address => "address_inside_network",
            Refusal::LocalName => "local_name",
        }
    }
}

/// Parses a webhook target and checks it; answers the parsed URL, which is
/// what a delivery must request.
pub fn check(url: &str, allow_private: bool) -> Result<Url, Refusal> {
    let parsed = Url::parse(url).map_err(|_| Refusal::NotAUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refusal::Scheme);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refusal::UserInfo);
    }
    let refusal = match parsed.host() {
        None => Some(Refusal::NotAUrl),
        Some(_) if allow_private => None,
        Some(Host::Domain(name)) => is_local_name(name).then_some(Refusal::LocalName),
        Some(Host::Ipv4(ip)) => is_forbidden(IpAddr::V4(ip)).then_some(Refusal::Address),
        Some(Host::Ipv6(ip)) => is_forbidden(IpAddr::V6(ip)).then_some(Refusal::Address),
    };
    match refusal {
        Some(refusal) => Err(refusal),
        None => Ok(parsed),
    }
}

/// Whether a host name names this machine: `localhost` and every name under
/// it (RFC 6761), with or without the final dot.
pub fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether a webhook may never reach this address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", with the unspecified 0.0.0.0
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, shared (CGNAT)
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15, benchmarking
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, and the broadcast address
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (first & 0xffc0) == 0xfec0 // fec0::/10, site-local (deprecated)
        || (first & 0xfe00) == 0xfc00 // fc00::/7, unique-local
        || (first & 0xff00) == 0xff00 // ff00::/8, multicast
}

/// The IPv4 address an IPv6 address carries, where it reaches that IPv4
/// address: mapped (`::ffff:a.b.c.d`), translated (`::ffff:0:a.b.c.d`),
/// compatible (`::a.b.c.d`, which also covers `::` and `::1`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo]
        | [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

/// Resolves a delivery's host and answers its addresses only when none is
/// forbidden, so the connection goes to an address that was checked.
#[derive(Debug, Default)]
pub struct CheckedResolver {
    allow_private: bool,
    inner: DefaultResolver,
}

impl CheckedResolver {
    /// A resolver that refuses forbidden addresses unless `allow_private`.
    pub fn new(allow_private: bool) -> Self {
        Self {
            allow_private,
            inner: DefaultResolver::default(),
        }
    }
}

impl Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = self.inner.resolve(uri, config, timeout)?;
        if !self.allow_private && addresses.iter().any(|a| is_forbidden(a.ip())) {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "webhook target resolves to an address inside the network",
            )));
        }
        Ok(addresses)
    }
}

/// The HTTP client of deliveries: each target checked again before it is
/// requested and its addresses checked as resolved, no redirects followed,
/// no proxy, a 10-second limit, and statuses answered as they are.
pub struct Client {
    agent: ureq::Agent,
    allow_private: bool,
}

impl Client {
    /// A client that refuses targets inside the network unless `allow_private`.
    pub fn new(allow_private: bool) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(10)))
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .build();
        Self {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::default(),
                CheckedResolver::new(allow_private),
            ),
            allow_private,
        }
    }

    /// POSTs a body to a stored target; answers the response status (a
    /// redirect is answered, not followed), or why nothing was answered.
    pub fn post(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<u16, String> {
        let target = check(url, self.allow_private).map_err(|refusal| refusal.to_string())?;
        let mut request = self.agent.post(target.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send(body)
            .map(|response| response.status().as_u16())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_parser_reads_every_ipv4_notation_as_its_address() {
        for url in [
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            "http://0x7f.1/",
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(
                parsed.host(),
                Some(Host::Ipv4(Ipv4Addr::LOCALHOST)),
                "{url}"
            );
            assert_eq!(check(url, false), Err(Refusal::Address), "{url}");
            assert!(check(url, true).is_ok(), "{url}");
        }
    }

    #[test]
    fn addresses_inside_the_network_are_forbidden_and_public_ones_are_not() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:0:127.0.0.1",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "fc00::1",
            "fdff:ffff::1",
            "ff02::1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_plain_http_and_https_urls_are_targets() {
        assert_eq!(check("ftp://example.com/", false), Err(Refusal::Scheme));
        assert_eq!(check("file:///etc/passwd", true), Err(Refusal::Scheme));
        assert_eq!(check("example.com/x", false), Err(Refusal::NotAUrl));
        assert_eq!(
            check("http://u:p@example.com/", true),
            Err(Refusal::UserInfo)
        );
        assert_eq!(check("http://u@example.com/", true), Err(Refusal::UserInfo));
        assert_eq!(check("http://localhost./", false), Err(Refusal::LocalName));
        assert_eq!(
            check("http://a.b.LOCALHOST/", false),
            Err(Refusal::LocalName)
        );
        assert!(check("https://hooks.example.com/x?y=1", false).is_ok());
        assert!(check("http://localhost.example.com/", false).is_ok());
    }

    #[test]
    fn the_resolver_refuses_a_name_that_resolves_inside_the_network() {
        let config = ureq::config::Config::default();
        let uri: ureq::http::Uri = "http://localhost:9/".parse().unwrap();
        let refused = CheckedResolver::new(false).resolve(&uri, &config, NextTimeout::default());
        assert!(
            matches!(&refused, Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied),
            "{refused:?}"
        );
        let allowed = CheckedResolver::new(true)
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()));
        let literal: ureq::http::Uri = "http://10.0.0.1:9/".parse().unwrap();
        assert!(
            CheckedResolver::new(false)
                .resolve(&literal, &config, NextTimeout::default())
                .is_err()
        );
    }
}
