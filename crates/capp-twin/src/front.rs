//! The TLS front of a workload API server: what kube-apiserver's secure port does before a
//! request reaches the handlers.
//!
//! It terminates TLS with a serving certificate signed by the cluster CA, authenticates the
//! caller as kube-apiserver would (a client certificate signed by the cluster CA: user = CN,
//! groups = O; or a valid bootstrap token; or nobody, `system:anonymous`), and forwards the
//! request to the capp-testenv instance behind it with a bearer token for that identity.
//! Bodies are streamed both ways, so watches work through it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use capp_testenv::{Identity, TestEnv};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::tokens;

type Body = BoxBody<Bytes, hyper::Error>;

/// What every connection of one workload API shares.
pub(crate) struct Backend {
    env: Arc<TestEnv>,
    /// `http://127.0.0.1:<port>` of the testenv instance.
    base: String,
    admin: kube::Client,
    client: Client<HttpConnector, Incoming>,
    /// One testenv token per identity seen (testenv keeps every minted token).
    tokens: Mutex<HashMap<Identity, SecretString>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Backend {
    pub(crate) fn new(env: Arc<TestEnv>, admin: kube::Client) -> Self {
        let base = env.url().trim_end_matches('/').to_owned();
        Self {
            env,
            base,
            admin,
            client: Client::builder(TokioExecutor::new()).build_http(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn token(&self, identity: &Identity) -> SecretString {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(identity.clone())
            .or_insert_with(|| self.env.token_for(identity))
            .clone()
    }
}

/// One listening address of a workload API.
#[derive(Debug)]
pub(crate) struct Front {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Front {
    /// Serves `listener` until [`Front::stop`].
    pub(crate) fn serve(
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        backend: Arc<Backend>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            backend,
            stopped,
        ));
        Self { stop, task }
    }

    /// Closes the listener and every open connection.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    backend: Arc<Backend>,
    mut stopped: watch::Receiver<bool>,
) {
    // Dropping the set when the loop ends aborts the open connections: the server is gone.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let backend = Arc::clone(&backend);
                connections.spawn(connection(stream, peer, acceptor, backend));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    backend: Arc<Backend>,
) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(error) => {
            // kube-apiserver logs these as "http: TLS handshake error from <peer>".
            tracing::debug!(%peer, %error, "TLS handshake error");
            return;
        }
    };
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| capp_pki::Certificate::from_der(der.to_vec(), "client certificate").ok())
        .and_then(|cert| {
            let info = cert.info();
            let user = info.common_name.clone()?;
            let groups: Vec<&str> = info.organizations.iter().map(String::as_str).collect();
            Some(Identity::user(user, &groups))
        });
    let service = service_fn(move |request| {
        let backend = Arc::clone(&backend);
        let identity = identity.clone();
        async move { Ok::<_, Infallible>(forward(request, identity, &backend).await) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

async fn forward(
    mut request: Request<Incoming>,
    certificate_identity: Option<Identity>,
    backend: &Backend,
) -> Response<Body> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    // kube-apiserver's union authenticator: the client certificate first, then tokens; a
    // token nobody recognises is a 401, no credentials at all is `system:anonymous`.
    let identity = match (certificate_identity, bearer) {
        (Some(identity), _) => Some(identity),
        (None, Some(token)) => match tokens::authenticate(&backend.admin, &token).await {
            Some(identity) => Some(identity),
            None => return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"),
        },
        (None, None) => None,
    };
    let headers = request.headers_mut();
    headers.remove(header::AUTHORIZATION);
    if let Some(identity) = identity {
        let token = backend.token(&identity);
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) {
            headers.insert(header::AUTHORIZATION, value);
        }
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let Ok(uri) = format!("{}{path}", backend.base).parse() else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "invalid request path",
        );
    };
    *request.uri_mut() = uri;
    match backend.client.request(request).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(error) => {
            tracing::warn!(%error, "Workload API backend unreachable");
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the workload API server is shutting down",
            )
        }
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    })
    .to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
