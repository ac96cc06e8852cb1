//! TLS: a controller and an invoker serving HTTPS from PEM files (a test
//! CA made here), clients that trust that CA, and the refusals of those
//! that do not.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use flint_api::{Client, FunctionSpec, HttpTrigger};
use flint_tests::{Controller, Invoker, guest};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use crate::{deploy_api, eventually};

/// Writes a CA and a certificate for `localhost` and `127.0.0.1` signed by
/// it; returns the paths of the CA, the certificate and its key (PEM).
fn certificates(dir: &Path) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Flint test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("server key");
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("server params");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("write PEM");
        path.to_string_lossy().into_owned()
    };
    (
        write("ca.pem", ca_cert.pem()),
        write("cert.pem", cert.pem()),
        write("key.pem", key.serialize_pem()),
    )
}

/// A GET over HTTPS trusting `ca`: the status and body.
async fn https_get(url: &str, ca: &str) -> Result<(u16, String), String> {
    let tls = flint_api::tls::client_config(Some(Path::new(ca))).map_err(|e| e.to_string())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client = HyperClient::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
    let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let response = client.get(uri).await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_ingress_serve_tls_to_clients_that_trust_their_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, cert, key) = certificates(dir.path());
    let controller = Controller::start_with(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(controller.api.starts_with("https://"), "{}", controller.api);

    // A client that trusts the CA gets in with the admin token.
    let admin = Client::with_ca(&controller.api, Some(Path::new(&ca)))
        .expect("client")
        .with_token(Some(controller.admin_token()));
    let me = admin.whoami().await.expect("whoami over TLS");
    assert_eq!(me.role, flint_api::Role::Admin);
    // One that does not is refused by its own TLS check, and plain HTTP to
    // the TLS port gets no answer.
    let untrusting =
        Client::new(&controller.api).expect("client").with_token(Some(controller.admin_token()));
    assert!(untrusting.whoami().await.is_err(), "a client without the CA must not connect");
    let plain = controller.api.replacen("https://", "http://", 1);
    let plain = Client::new(&plain).expect("client").with_token(Some(controller.admin_token()));
    assert!(plain.whoami().await.is_err(), "plain HTTP is not served on the TLS port");

    // An invoker that trusts the CA follows the controller over TLS and
    // serves its own ingress over TLS.
    let invoker = Invoker::start_with_args(
        &controller.api,
        &controller.cluster_token_file(),
        "tls-invoker",
        dir.path(),
        &["--controller-ca", &ca, "--tls-cert", &cert, "--tls-key", &key],
    );
    assert!(invoker.http.starts_with("https://"), "{}", invoker.http);
    let route = HttpTrigger::new("/hello");
    deploy_api(
        &admin,
        "default",
        "hello",
        &guest("hello-http"),
        &FunctionSpec::default(),
        Some(route),
    )
    .await;
    let url = format!("{}/hello", invoker.http);
    let (status, body) =
        eventually("the function answers over TLS", Duration::from_secs(30), || {
            let (url, ca) = (url.clone(), ca.clone());
            async move { https_get(&url, &ca).await.ok().filter(|(status, _)| *status == 200) }
        })
        .await;
    assert_eq!((status, body.as_str()), (200, "Hello, world!\n"));
    // The invoker registered its ingress as https://.
    let invokers = admin.list_invokers().await.expect("invokers");
    assert!(invokers.iter().any(|i| i.info.http_url.starts_with("https://")), "{invokers:?}");
}

#[test]
fn a_certificate_without_its_key_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, cert, _) = certificates(dir.path());
    let bin = flint_tests::flint_bin().with_file_name("flint-controller");
    let data = dir.path().join("data");
    let output = std::process::Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--data", &data.to_string_lossy(), "--tls-cert", &cert])
        .output()
        .expect("flint-controller runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    // A key that is not PEM: exit 64, naming the flags.
    std::fs::write(dir.path().join("bad.pem"), "not a key").expect("write");
    let bad = dir.path().join("bad.pem").to_string_lossy().into_owned();
    let output =
        std::process::Command::new(flint_tests::flint_bin().with_file_name("flint-controller"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--data",
                &data.to_string_lossy(),
                "--tls-cert",
                &cert,
                "--tls-key",
                &bad,
            ])
            .output()
            .expect("flint-controller runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("--tls-cert/--tls-key"), "{stderr}");
}
