//! Delivers formatted syslog lines over UDP, TCP (RFC 6587 octet counting),
//! TLS (RFC 5425, octet counting) or a local datagram socket such as
//! `/dev/log`.
//!
//! Delivery errors are returned, never swallowed: the caller keeps the
//! event in the store's trail and retries, so the sender only has to drop a
//! broken connection and reconnect on the next call.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket, UnixDatagram};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::records::audit_chain::cap_bytes;

/// Largest datagram we send. RFC 5424 receivers must accept 480 bytes and
/// should accept 2048; rsyslog and syslog-ng take 8 KiB by default, and
/// larger UDP datagrams fragment.
pub(crate) const MAX_DATAGRAM: usize = 8 * 1024;

/// Port used when a `udp://` or `tcp://` target names none (RFC 5426, and
/// the de-facto port for plain TCP syslog).
const DEFAULT_PORT: u16 = 514;

/// Port used when a `tls://` target names none (RFC 5425).
const DEFAULT_TLS_PORT: u16 = 6514;

/// Bound on connecting and on each send, so a stalled collector makes the
/// caller retry later instead of hanging the audit pipeline.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where audit lines go, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum SyslogTarget {
    /// `udp://host:port`: one datagram per line, truncated to 8 KiB.
    Udp(String),
    /// `tcp://host:port`: RFC 6587 octet-counted frames on one connection.
    Tcp(String),
    /// `tls://host:port`: RFC 5425, octet-counted frames over TLS, the
    /// collector's certificate checked against `[audit] ca_file` or the
    /// system's roots.
    Tls(String),
    /// `unix:///dev/log`: local datagram socket (journald, rsyslog).
    Unix(PathBuf),
}

/// Why a target string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    /// No `scheme://` at all.
    #[error(
        "syslog target {0:?} needs a scheme: tcp://host:port, tls://host:port, udp://host:port or unix:///path"
    )]
    MissingScheme(String),
    /// A scheme we do not implement.
    #[error("syslog scheme {0}:// is not supported (use tcp://, tls://, udp:// or unix://)")]
    UnsupportedScheme(String),
    /// `udp://` or `tcp://` without a host, or with a malformed port.
    #[error("syslog target {0:?}: expected host:port (IPv6 as [addr]:port)")]
    BadAddress(String),
    /// `unix://` with a relative or empty path.
    #[error("syslog target {0:?}: unix socket path must be absolute, e.g. unix:///dev/log")]
    BadPath(String),
}

impl FromStr for SyslogTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| TargetError::MissingScheme(s.to_string()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => host_port(s, rest, DEFAULT_PORT).map(SyslogTarget::Udp),
            "tcp" => host_port(s, rest, DEFAULT_PORT).map(SyslogTarget::Tcp),
            "tls" => host_port(s, rest, DEFAULT_TLS_PORT).map(SyslogTarget::Tls),
            "unix" => {
                if rest.starts_with('/') && rest.len() > 1 {
                    Ok(SyslogTarget::Unix(PathBuf::from(rest)))
                } else {
                    Err(TargetError::BadPath(s.to_string()))
                }
            }
            other => Err(TargetError::UnsupportedScheme(other.to_string())),
        }
    }
}

impl TryFrom<String> for SyslogTarget {
    type Error = TargetError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogTarget::Udp(addr) => write!(f, "udp://{addr}"),
            SyslogTarget::Tcp(addr) => write!(f, "tcp://{addr}"),
            SyslogTarget::Tls(addr) => write!(f, "tls://{addr}"),
            SyslogTarget::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// Validates `host[:port]` / `[v6][:port]` and returns `host:port` with
/// the default port filled in, ready for tokio's resolver.
fn host_port(whole: &str, rest: &str, default_port: u16) -> Result<String, TargetError> {
    let bad = || TargetError::BadAddress(whole.to_string());
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (format!("[{addr}]"), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    let host_ok = !host.is_empty()
        && host != "[]"
        && !host.contains(['/', '@', ' '])
        && (host.starts_with('[') || !host.contains(':'));
    if !host_ok {
        return Err(bad());
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(bad()),
        },
    };
    Ok(format!("{host}:{port}"))
}

/// An open connection to the collector.
enum Conn {
    /// Connected UDP socket, so ICMP errors surface as send errors.
    Udp(UdpSocket),
    /// Connected unbound datagram socket.
    Unix(UnixDatagram),
    /// Stream carrying octet-counted frames.
    Tcp(TcpStream),
    /// The same frames inside TLS.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Sends lines to one target, connecting lazily and reconnecting after any
/// error.
pub(crate) struct SyslogSender {
    /// Where to send.
    target: SyslogTarget,
    /// `None` until the first send and after any failure.
    conn: Option<Conn>,
    /// Bound on connect and on each send.
    timeout: Duration,
    /// TLS settings for a `tls://` target.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for SyslogSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyslogSender")
            .field("target", &self.target.to_string())
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl SyslogSender {
    /// A sender for `target`; nothing is opened until the first send, so
    /// the daemon can start while the collector is down.
    pub(crate) fn new(
        target: SyslogTarget,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> SyslogSender {
        SyslogSender {
            target,
            conn: None,
            timeout: DEFAULT_TIMEOUT,
            tls,
        }
    }

    /// The configured target, for log messages.
    pub(crate) fn target(&self) -> &SyslogTarget {
        &self.target
    }

    /// Sends one formatted line (no trailing newline). On error the
    /// connection is dropped and the next call reconnects; the line may or
    /// may not have arrived, so a retry can duplicate it.
    pub(crate) async fn send(&mut self, line: &str) -> io::Result<()> {
        let result = match tokio::time::timeout(self.timeout, self.send_inner(line)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("syslog send to {} timed out", self.target),
            )),
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn send_inner(&mut self, line: &str) -> io::Result<()> {
        let closed = match &self.conn {
            Some(Conn::Tcp(stream)) => peer_closed(stream),
            Some(Conn::Tls(stream)) => peer_closed(stream.get_ref().0),
            _ => false,
        };
        if closed {
            self.conn = None;
        }
        let conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.target, self.tls.as_ref()).await?,
        };
        let conn = self.conn.insert(conn);
        match conn {
            Conn::Udp(sock) => {
                let (datagram, _) = cap_bytes(line, MAX_DATAGRAM);
                sock.send(datagram.as_bytes()).await.map(drop)
            }
            Conn::Unix(sock) => {
                let (datagram, _) = cap_bytes(line, MAX_DATAGRAM);
                sock.send(datagram.as_bytes()).await.map(drop)
            }
            Conn::Tcp(stream) => {
                // One buffer, one write: a frame is never split across
                // attempts, so a reconnect never resumes mid-frame.
                let frame = format!("{} {}", line.len(), line);
                stream.write_all(frame.as_bytes()).await?;
                stream.flush().await
            }
            Conn::Tls(stream) => {
                // The flush hands the record to the kernel; as with plain
                // TCP, that is as far as syslog's one-way protocol can tell.
                let frame = format!("{} {}", line.len(), line);
                stream.write_all(frame.as_bytes()).await?;
                stream.flush().await
            }
        }
    }
}

async fn connect(
    target: &SyslogTarget,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> io::Result<Conn> {
    match target {
        SyslogTarget::Udp(addr) => {
            let remote = tokio::net::lookup_host(addr.as_str())
                .await?
                .next()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address"))
                })?;
            let local = if remote.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = UdpSocket::bind(local).await?;
            sock.connect(remote).await?;
            Ok(Conn::Udp(sock))
        }
        SyslogTarget::Tcp(addr) => {
            let stream = TcpStream::connect(addr.as_str()).await?;
            // Audit lines are small and should leave promptly.
            stream.set_nodelay(true)?;
            Ok(Conn::Tcp(stream))
        }
        SyslogTarget::Tls(addr) => {
            let config = tls.ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no TLS settings for tls://")
            })?;
            let host = addr
                .rsplit_once(':')
                .map_or(addr.as_str(), |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']');
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
            let stream = TcpStream::connect(addr.as_str()).await?;
            stream.set_nodelay(true)?;
            let stream = TlsConnector::from(config.clone())
                .connect(name, stream)
                .await?;
            Ok(Conn::Tls(Box::new(stream)))
        }
        SyslogTarget::Unix(path) => {
            let sock = UnixDatagram::unbound()?;
            sock.connect(path)?;
            Ok(Conn::Unix(sock))
        }
    }
}

/// A syslog collector never writes to us, so a readable stream means it
/// closed the connection (EOF) or reset it. Checking before writing catches
/// a restarted collector instead of writing the line into a dead socket,
/// where the loss would only show on a later write.
fn peer_closed(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match stream.try_read(&mut buf) {
        Ok(0) => true,
        // Unexpected data: ignore it, the connection is alive.
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn target_parsing_table() {
        let ok = [
            (
                "udp://127.0.0.1:514",
                SyslogTarget::Udp("127.0.0.1:514".into()),
            ),
            (
                "udp://logs.example.com",
                SyslogTarget::Udp("logs.example.com:514".into()),
            ),
            ("UDP://[::1]:5514", SyslogTarget::Udp("[::1]:5514".into())),
            ("udp://[::1]", SyslogTarget::Udp("[::1]:514".into())),
            (
                "tcp://10.0.0.1:601/",
                SyslogTarget::Tcp("10.0.0.1:601".into()),
            ),
            ("unix:///dev/log", SyslogTarget::Unix("/dev/log".into())),
            (
                "tls://logs.example.com",
                SyslogTarget::Tls("logs.example.com:6514".into()),
            ),
            ("tls://[::1]:7514", SyslogTarget::Tls("[::1]:7514".into())),
            (
                " unix:///run/systemd/journal/syslog ",
                SyslogTarget::Unix("/run/systemd/journal/syslog".into()),
            ),
        ];
        for (input, want) in ok {
            assert_eq!(input.parse::<SyslogTarget>(), Ok(want), "{input}");
        }
        let bad = [
            (
                "127.0.0.1:514",
                TargetError::MissingScheme("127.0.0.1:514".into()),
            ),
            ("http://h", TargetError::UnsupportedScheme("http".into())),
            ("udp://", TargetError::BadAddress("udp://".into())),
            ("udp://h:", TargetError::BadAddress("udp://h:".into())),
            ("udp://h:0", TargetError::BadAddress("udp://h:0".into())),
            (
                "udp://h:99999",
                TargetError::BadAddress("udp://h:99999".into()),
            ),
            (
                "udp://::1:514",
                TargetError::BadAddress("udp://::1:514".into()),
            ),
            ("tcp://[::1", TargetError::BadAddress("tcp://[::1".into())),
            ("tcp://u@h:1", TargetError::BadAddress("tcp://u@h:1".into())),
            (
                "unix://dev/log",
                TargetError::BadPath("unix://dev/log".into()),
            ),
            ("unix://", TargetError::BadPath("unix://".into())),
        ];
        for (input, want) in bad {
            assert_eq!(input.parse::<SyslogTarget>(), Err(want), "{input}");
        }
        assert!(TargetError::UnsupportedScheme("relp".into())
            .to_string()
            .contains("relp:// is not supported"));
    }

    #[test]
    fn display_roundtrips_through_parse() {
        for s in [
            "udp://127.0.0.1:514",
            "tcp://[::1]:601",
            "tls://logs.example.com:6514",
            "unix:///dev/log",
        ] {
            let t: SyslogTarget = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(t.to_string().parse::<SyslogTarget>().unwrap(), t);
        }
    }

    #[test]
    fn deserializes_from_config_string() {
        let t: SyslogTarget = serde_json::from_str("\"unix:///dev/log\"").unwrap();
        assert_eq!(t, SyslogTarget::Unix("/dev/log".into()));
        let err = serde_json::from_str::<SyslogTarget>("\"relp://x\"").unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    const LINE: &str = "<85>1 2026-11-21T10:05:07.123456Z h approvald 1 mailed [approvald@32473 outcome=\"sent\"] \u{feff}Grüße";

    #[tokio::test]
    async fn udp_line_arrives_intact() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = SyslogTarget::Udp(server.local_addr().unwrap().to_string());
        let mut sender = SyslogSender::new(target, None);
        for _ in 0..2 {
            sender.send(LINE).await.unwrap();
            let mut buf = vec![0u8; 65536];
            let n = server.recv(&mut buf).await.unwrap();
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), LINE);
        }
    }

    #[tokio::test]
    async fn regression_oversized_udp_line_is_cut_at_char_boundary() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut sender = SyslogSender::new(
            SyslogTarget::Udp(server.local_addr().unwrap().to_string()),
            None,
        );
        // 3-byte chars, so 8192 falls inside a character.
        let line = format!("x{}", "€".repeat(4000));
        sender.send(&line).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = server.recv(&mut buf).await.unwrap();
        assert!(n <= MAX_DATAGRAM && n > MAX_DATAGRAM - 3, "{n}");
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(line.starts_with(got));
    }

    async fn read_frame(stream: &mut TcpStream) -> String {
        let mut len = Vec::new();
        loop {
            let b = stream.read_u8().await.unwrap();
            if b == b' ' {
                break;
            }
            assert!(b.is_ascii_digit(), "frame length must be digits, got {b}");
            len.push(b);
        }
        let len: usize = std::str::from_utf8(&len).unwrap().parse().unwrap();
        let mut msg = vec![0u8; len];
        stream.read_exact(&mut msg).await.unwrap();
        String::from_utf8(msg).unwrap()
    }

    #[tokio::test]
    async fn tcp_uses_octet_counting_frames() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut sender = SyslogSender::new(
            SyslogTarget::Tcp(listener.local_addr().unwrap().to_string()),
            None,
        );
        sender.send(LINE).await.unwrap();
        sender.send("second").await.unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut raw = vec![0u8; LINE.len() + 20];
        let want = format!("{} {}6 second", LINE.len(), LINE);
        let mut got = Vec::new();
        while got.len() < want.len() {
            let n = stream.read(&mut raw).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&raw[..n]);
        }
        assert_eq!(String::from_utf8(got).unwrap(), want);
        assert_eq!(
            LINE.len(),
            LINE.chars().count() + 4,
            "length counts bytes, not chars"
        );
    }

    #[tokio::test]
    async fn regression_tcp_reconnects_after_collector_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut sender = SyslogSender::new(
            SyslogTarget::Tcp(listener.local_addr().unwrap().to_string()),
            None,
        );
        sender.send("one").await.unwrap();
        let (mut first, _) = listener.accept().await.unwrap();
        assert_eq!(read_frame(&mut first).await, "one");
        drop(first);
        // Give the FIN time to arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
        sender.send("two").await.unwrap();
        let (mut second, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("sender did not reconnect")
            .unwrap();
        assert_eq!(read_frame(&mut second).await, "two");
    }

    #[tokio::test]
    async fn tcp_connection_refused_is_an_error_then_recovers() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut sender = SyslogSender::new(SyslogTarget::Tcp(addr.to_string()), None);
        assert!(sender.send("lost").await.is_err());
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            // Port taken by someone else meanwhile: nothing more to check.
            Err(_) => return,
        };
        sender.send("kept").await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        assert_eq!(read_frame(&mut s).await, "kept");
    }

    #[tokio::test]
    async fn unix_datagram_line_arrives_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut sender = SyslogSender::new(SyslogTarget::Unix(path), None);
        sender.send(LINE).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), LINE);
    }

    #[tokio::test]
    async fn unix_send_to_closed_or_missing_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        drop(UnixDatagram::bind(&closed).unwrap());
        assert!(closed.exists(), "socket file stays after close");
        for path in [closed, dir.path().join("missing")] {
            let mut sender = SyslogSender::new(SyslogTarget::Unix(path.clone()), None);
            assert!(sender.send(LINE).await.is_err(), "{}", path.display());
        }
    }

    #[tokio::test]
    async fn unix_sender_recovers_when_the_socket_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let mut sender = SyslogSender::new(SyslogTarget::Unix(path.clone()), None);
        sender.send("a").await.unwrap();
        drop(server);
        std::fs::remove_file(&path).unwrap();
        assert!(sender.send("b").await.is_err());
        let server = UnixDatagram::bind(&path).unwrap();
        sender.send("c").await.unwrap();
        let mut buf = [0u8; 16];
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"c");
    }
}
