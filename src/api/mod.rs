//! The HTTP/JSON API on a Unix socket: how integrators and the CLI submit and
//! look up requests. Who may connect is the socket's file permissions; who
//! may submit for whom, the caller's account (`[[api.submitters]]`).

mod audit_trail;
pub(crate) mod client;
mod keys;
mod listener;
pub(crate) mod openapi;
mod reports;
mod routes;
pub(crate) mod submission;
pub(crate) mod views;

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use tokio::net::UnixListener;

use crate::approvals::{
    Act, ActionError, Approvals, Caller, Filter, GrantAnswer, Page, SubmitError,
};
use crate::domain::ids::{Address, RequestId};
use crate::domain::policy::Submission;
use crate::domain::request::Request;
use crate::records::AuditEvent;
use crate::store::StoreError;

/// The operations the API offers, as the application service provides them.
/// The handlers depend on this rather than on [`Approvals`] so that they can
/// be tested against a fake without a store, mail or keys.
pub(crate) trait RequestService: Send + Sync + 'static {
    /// Admits a new request or says why not.
    fn submit(
        &self,
        s: Submission,
        caller: Caller,
    ) -> impl Future<Output = Result<Request, SubmitError>> + Send;
    /// One request, if it exists.
    fn get(&self, id: RequestId) -> Result<Option<Request>, StoreError>;
    /// One page of the requests matching `filter`, oldest first.
    fn list(&self, filter: &Filter, page: Page) -> Result<Vec<Request>, StoreError>;
    /// Cancels, revokes or overrides a request, or says why not.
    fn act(
        &self,
        id: RequestId,
        act: Act,
        by: &str,
        reason: &str,
        caller: Caller,
    ) -> impl Future<Output = Result<Request, ActionError>> + Send;
    /// Audits a call refused for its caller (a key's role, an account).
    fn record_refusal(&self, caller: &Caller, why: &str);
    /// Recorded audit events from number `since`, at most `limit`.
    fn audit_log(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
    /// The whole store as an export file (blocking: writers wait).
    fn export_store(&self) -> Result<Vec<u8>, StoreError>;
    /// Whether `caller` is an administrator.
    fn is_admin(&self, caller: &Caller) -> bool;
    /// Whether `requester` may run `action` on `resource` now.
    fn check_grant(
        &self,
        requester: &Address,
        action: &str,
        resource: &str,
        caller: Caller,
    ) -> impl Future<Output = Result<GrantAnswer, StoreError>> + Send;
}

impl RequestService for Approvals {
    fn submit(
        &self,
        s: Submission,
        caller: Caller,
    ) -> impl Future<Output = Result<Request, SubmitError>> + Send {
        Approvals::submit(self, s, caller)
    }

    fn get(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
        Approvals::get(self, id)
    }

    fn list(&self, filter: &Filter, page: Page) -> Result<Vec<Request>, StoreError> {
        Approvals::list(self, filter, page)
    }

    fn act(
        &self,
        id: RequestId,
        act: Act,
        by: &str,
        reason: &str,
        caller: Caller,
    ) -> impl Future<Output = Result<Request, ActionError>> + Send {
        Approvals::act(self, id, act, by, reason, caller)
    }

    fn check_grant(
        &self,
        requester: &Address,
        action: &str,
        resource: &str,
        caller: Caller,
    ) -> impl Future<Output = Result<GrantAnswer, StoreError>> + Send {
        Approvals::check_grant(self, requester, action, resource, caller)
    }

    fn record_refusal(&self, caller: &Caller, why: &str) {
        Approvals::record_refusal(self, &caller.shown(), why);
    }

    fn audit_log(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        Approvals::audit_log(self, since, limit)
    }

    fn export_store(&self) -> Result<Vec<u8>, StoreError> {
        Approvals::export_store(self)
    }

    fn is_admin(&self, caller: &Caller) -> bool {
        Approvals::is_admin(self, caller)
    }
}

/// Serves the API on `listener` until `shutdown` completes, then lets
/// requests in progress finish. `monitoring` (`/metrics`, `/v1/health`)
/// is served beside it: any account that may connect to the socket may
/// read them, as it may read requests.
pub(crate) async fn serve(
    listener: UnixListener,
    approvals: Arc<Approvals>,
    monitoring: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    listener::serve(
        listener,
        routes::router(approvals).merge(monitoring),
        shutdown,
    )
    .await
}

/// The same API for the HTTP listener: every call authenticated by an API
/// key (`[[api.keys]]`) and allowed by its role.
pub(crate) fn key_router(approvals: Arc<Approvals>) -> axum::Router {
    let gate = keys::KeyGate {
        approvals: approvals.clone(),
        buckets: Arc::default(),
    };
    routes::router(approvals).layer(axum::middleware::from_fn_with_state(
        gate,
        keys::authenticate,
    ))
}

/// [`serve`] for any implementation of the service, without the
/// monitoring routes: the tests' fake.
#[cfg(test)]
pub(crate) async fn serve_service<S: RequestService>(
    listener: UnixListener,
    service: Arc<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    listener::serve(listener, routes::router(service), shutdown).await
}

/// Permissions of the socket: owner and group may connect, so access is
/// granted by adding people to the service's group.
const SOCKET_MODE: u32 = 0o660;

/// Binds the API socket at `path`, replacing a stale socket left by a daemon
/// that did not exit cleanly, but never a live one (another instance is
/// running) nor a file that is not a socket (a configuration mistake that
/// must not cost someone their file).
pub(crate) fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is in use: is another approvald running?",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Bound inside a directory only we can enter, given its final mode,
    // then moved into place: there is no moment at which the socket exists
    // at its path with wider permissions than SOCKET_MODE.
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let private = parent.join(format!(".approvald-bind-{}", u64::from_be_bytes(random)));
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let staged = private.join("api.sock");
    let bound = UnixListener::bind(&staged).and_then(|listener| {
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(SOCKET_MODE))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    });
    if bound.is_err() {
        std::fs::remove_file(&staged).ok();
    }
    // Empty now: the socket moved out, or was never made.
    if let Err(e) = std::fs::remove_dir(&private) {
        tracing::warn!(error = %e, dir = %private.display(), "cannot remove the socket's staging directory");
    }
    let listener = bound?;
    Ok(listener)
}

/// A fake service and a running server for the API and CLI tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::sync::Mutex;

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use tokio::sync::oneshot;

    use super::*;
    use crate::domain::policy::FieldError;
    use crate::domain::request::tests::two_level_request;

    /// What the fake does on every call.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Mode {
        /// Behaves like a working service with a permissive policy.
        Working,
        /// Refuses every submission with two field errors.
        Refusing,
        /// Fails every call as a broken store would.
        Broken,
    }

    /// An in-memory service: `AR-7` exists from the start (a two-level
    /// request by dave, pending at level 1).
    pub(crate) struct Fake {
        /// How it behaves.
        pub(crate) mode: Mode,
        /// Its "store", open to tests that need to plant a request.
        pub(crate) requests: Mutex<Vec<Request>>,
    }

    /// The fake's clock: submissions are admitted at this time.
    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn broken() -> StoreError {
        StoreError::Corrupt {
            key: "AR-7".into(),
            why: "secret internal detail".into(),
        }
    }

    impl Fake {
        pub(crate) fn new(mode: Mode) -> Self {
            Fake {
                mode,
                requests: Mutex::new(vec![two_level_request()]),
            }
        }

        fn all(&self) -> Vec<Request> {
            self.requests.lock().map(|r| r.clone()).unwrap_or_default()
        }
    }

    impl RequestService for Fake {
        async fn submit(&self, s: Submission, _caller: Caller) -> Result<Request, SubmitError> {
            match self.mode {
                Mode::Broken => return Err(SubmitError::Store(broken())),
                Mode::Refusing => {
                    return Err(SubmitError::Invalid(vec![
                        FieldError {
                            field: "reason",
                            error: "\"Because\" is not a registered reason".into(),
                        },
                        FieldError {
                            field: "window",
                            error: "the window is too long".into(),
                        },
                    ]))
                }
                Mode::Working => {}
            }
            let mut all = self
                .requests
                .lock()
                .map_err(|_| SubmitError::Store(broken()))?;
            let mut r = two_level_request();
            r.id = RequestId::new(all.len() as u64 + 7);
            r.requester = s.requester;
            r.action = s.action;
            r.resource = s.resource;
            r.justification = s.justification;
            r.reason = s.reason;
            r.governance_code = s.governance_code;
            r.requested_window = s.window;
            r.granted_window = s.window;
            r.created_at = now();
            r.deadline = now() + Duration::hours(24);
            all.push(r.clone());
            Ok(r)
        }

        fn get(&self, id: RequestId) -> Result<Option<Request>, StoreError> {
            if self.mode == Mode::Broken {
                return Err(broken());
            }
            Ok(self.all().into_iter().find(|r| r.id == id))
        }

        fn list(&self, filter: &Filter, page: Page) -> Result<Vec<Request>, StoreError> {
            if self.mode == Mode::Broken {
                return Err(broken());
            }
            Ok(self
                .all()
                .into_iter()
                .filter(|r| page.after.is_none_or(|a| r.id > a))
                .filter(|r| filter.matches(r))
                .take(page.limit)
                .collect())
        }

        /// Applies the act with the domain's own rules, as root would.
        async fn act(
            &self,
            id: RequestId,
            act: Act,
            by: &str,
            reason: &str,
            caller: Caller,
        ) -> Result<Request, ActionError> {
            use crate::domain::request::{Channel, Intervention, InterventionKind};
            if self.mode == Mode::Broken {
                return Err(ActionError::Store(broken()));
            }
            if caller.uid() != Some(0) {
                return Err(ActionError::Forbidden("only root, in the fake".into()));
            }
            let mut all = self
                .requests
                .lock()
                .map_err(|_| ActionError::Store(broken()))?;
            let r = all
                .iter_mut()
                .find(|r| r.id == id)
                .ok_or(ActionError::NotFound(id))?;
            let i = Intervention {
                kind: InterventionKind::Cancel,
                by: by.to_owned(),
                uid: caller.uid(),
                reason: reason.to_owned(),
                at: now(),
                channel: Channel::Api,
            };
            let done = match act {
                Act::Cancel => r.cancel(i),
                Act::Revoke => r.revoke(i),
                Act::Override(to) => r.override_to(to, i).map(drop),
            };
            done.map_err(|e| ActionError::Conflict(e.to_string()))?;
            Ok(r.clone())
        }

        fn record_refusal(&self, _caller: &Caller, _why: &str) {}

        fn audit_log(&self, _since: u64, _limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
            Ok(Vec::new())
        }

        fn export_store(&self) -> Result<Vec<u8>, StoreError> {
            Ok(Vec::new())
        }

        fn is_admin(&self, _caller: &Caller) -> bool {
            false
        }

        /// Denies everything, naming the pending request when there is one.
        async fn check_grant(
            &self,
            requester: &Address,
            action: &str,
            resource: &str,
            _caller: Caller,
        ) -> Result<GrantAnswer, StoreError> {
            if self.mode == Mode::Broken {
                return Err(broken());
            }
            let pending = self.all().into_iter().find(|r| {
                r.requester == *requester
                    && r.action == action
                    && r.resource == resource
                    && r.status == crate::domain::request::Status::Pending
            });
            Ok(GrantAnswer {
                allowed: false,
                request: pending.as_ref().map(|r| r.id),
                until: None,
                emergency: false,
                reason: if pending.is_some() {
                    "pending approval".into()
                } else {
                    "no approved request".into()
                },
            })
        }
    }

    /// A server on a socket in a temporary directory, stopped when dropped.
    pub(crate) struct Server {
        /// Where it listens.
        pub(crate) socket: std::path::PathBuf,
        /// The service behind it, for tests that change its state.
        pub(crate) fake: Arc<Fake>,
        /// Triggers graceful shutdown.
        stop: Option<oneshot::Sender<()>>,
        /// The running server, aborted on drop so no test leaks it.
        task: tokio::task::JoinHandle<io::Result<()>>,
        /// Keeps the socket's directory alive as long as the server.
        _dir: tempfile::TempDir,
    }

    impl Server {
        pub(crate) async fn start(mode: Mode) -> Server {
            let dir = tempfile::tempdir().unwrap();
            let socket = dir.path().join("api.sock");
            let listener = bind(&socket).unwrap();
            let fake = Arc::new(Fake::new(mode));
            let (stop, stopped) = oneshot::channel::<()>();
            // A sender dropped without sending stops it too.
            let task = tokio::spawn(serve_service(listener, fake.clone(), async {
                stopped.await.ok();
            }));
            Server {
                socket,
                fake,
                stop: Some(stop),
                task,
                _dir: dir,
            }
        }

        /// Asks the server to stop and waits for it to finish.
        pub(crate) async fn stop(mut self) -> io::Result<()> {
            if let Some(stop) = self.stop.take() {
                // Refused only if the server already ended; awaiting it
                // below says how.
                stop.send(()).ok();
            }
            (&mut self.task).await.unwrap()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::{Mode, Server};
    use super::*;

    #[tokio::test]
    async fn bind_replaces_a_stale_socket_but_not_a_live_one_nor_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let _listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, SOCKET_MODE);
        let err = bind(&path).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::AddrInUse,
            "a live socket is kept"
        );
        let file = dir.path().join("approvald.toml");
        std::fs::write(&file, "precious").unwrap();
        assert!(bind(&file).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    }

    #[tokio::test]
    async fn graceful_shutdown_ends_serve() {
        let server = Server::start(Mode::Working).await;
        let client = client::ApiClient::new(&server.socket);
        let (status, _) = client
            .call(hyper::Method::GET, "/v1/requests", None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), server.stop()).await;
        assert!(matches!(done, Ok(Ok(()))), "serve did not return: {done:?}");
    }

    #[test]
    fn the_socket_appears_with_its_final_mode_and_nothing_else_is_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, SOCKET_MODE);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["api.sock"], "the staging directory is gone");
        drop(listener);
    }

    /// A client that connects and never sends its request is cut off once
    /// the header timeout passes: it cannot hold a connection open.
    #[tokio::test]
    async fn a_silent_connection_is_closed_after_the_header_timeout() {
        use tokio::io::AsyncReadExt;
        let server = testkit::Server::start(testkit::Mode::Working).await;
        let mut stream = tokio::net::UnixStream::connect(&server.socket)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            stream.read_to_end(&mut buf),
        )
        .await;
        assert!(read.is_ok(), "the connection was still open after 30 s");
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(9),
            "closed after {:?}, before the timeout",
            started.elapsed()
        );
    }
}
