//! The few URLs an HTTP check needs: `http` or `https`, a host, a port and
//! a path with its query. User info and fragments have no place in a check.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// As written, brackets of an IPv6 literal removed.
    pub host: String,
    pub port: u16,
    /// Starts with `/`; includes the query.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("only http and https URLs can be checked")]
    Scheme,
    #[error("no host")]
    NoHost,
    #[error("user names and passwords do not belong in a check URL")]
    UserInfo,
    #[error("bad port")]
    Port,
    #[error("bad host")]
    Host,
    #[error("spaces and control characters are not allowed")]
    Character,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        if text.chars().any(|c| c == ' ' || c.is_control()) {
            return Err(UrlError::Character);
        }
        let (https, rest) = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            _ => return Err(UrlError::Scheme),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_authority(authority, if https { 443 } else { 80 })?;
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Url {
            https,
            host,
            port,
            path,
        })
    }

    /// Where a redirect's `Location` points, read against this URL.
    pub fn join(&self, location: &str) -> Result<Url, UrlError> {
        if location.contains("://") {
            return Url::parse(location);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        Url::parse(&format!("{scheme}://{}{path}", self.authority()))
    }

    /// `host[:port]` as the `Host` header wants it: no default port.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn split_authority(authority: &str, default_port: u16) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UrlError::Host)?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UrlError::Host);
        }
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or(UrlError::Port)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().ok().filter(|&p| p != 0).ok_or(UrlError::Port)?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts() {
        let url = Url::parse("HTTPS://Example.org:8443/a/b?c=d#frag").unwrap();
        assert!(url.https);
        assert_eq!(url.host, "example.org");
        assert_eq!(url.port, 8443);
        assert_eq!(url.path, "/a/b?c=d");
        assert_eq!(url.to_string(), "https://example.org:8443/a/b?c=d");
        let url = Url::parse("http://[::1]/").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 80));
        assert_eq!(url.authority(), "[::1]");
        assert_eq!(Url::parse("http://h?x").unwrap().path, "/?x");
    }

    #[test]
    fn refuses_what_a_check_cannot_use() {
        assert_eq!(Url::parse("ftp://h/"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("h/"), Err(UrlError::Scheme));
        assert_eq!(Url::parse("http:///x"), Err(UrlError::NoHost));
        assert_eq!(Url::parse("http://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(Url::parse("http://h:99999/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://h:0/"), Err(UrlError::Port));
        assert_eq!(Url::parse("http://[zz]/"), Err(UrlError::Host));
        assert_eq!(Url::parse("http://h/a b"), Err(UrlError::Character));
    }

    #[test]
    fn joins_redirects() {
        let base = Url::parse("http://h:8080/a/b?q").unwrap();
        assert_eq!(base.join("/c").unwrap().to_string(), "http://h:8080/c");
        assert_eq!(base.join("c?x").unwrap().to_string(), "http://h:8080/a/c?x");
        assert_eq!(base.join("//other/").unwrap().to_string(), "http://other/");
        assert_eq!(base.join("https://s/x").unwrap().to_string(), "https://s/x");
    }
}
