//! A real TLS stack for tests and benchmarks: rustls client and server in memory, with
//! its key log hook, carrying an XMPP dialogue over a synthetic TCP connection.
#![allow(dead_code)]

use rustls::crypto::ring as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use xmppdump::model::Timestamp;
use xmppdump::synth::{client_header, Conversation, Link, Packet};

/// rustls's key log hook, writing the NSS format.
#[derive(Debug, Default)]
pub struct Lines(pub Mutex<String>);

impl rustls::KeyLog for Lines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        self.0.lock().unwrap().push_str(&line);
    }
}

pub struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A CA and a leaf for example.org with an XMPP address in its SAN (RFC 6120 §13.7.1.4).
pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "xmppdump test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["example.org".to_string()]).unwrap();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "example.org");
    leaf.subject_alt_names.push(SanType::OtherName((
        vec![1, 3, 6, 1, 5, 5, 7, 8, 5],
        "example.org".into(),
    )));
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca: ca_cert.der().clone(),
        chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

pub const SERVER_OPEN: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";

/// How the test session is built.
pub struct Setup {
    pub suite: rustls::SupportedCipherSuite,
    pub version: &'static rustls::SupportedProtocolVersion,
    pub mss: usize,
    /// Key exchange groups of the server, when not the default (forces a HelloRetryRequest).
    pub server_groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
}

/// A client and a server configuration sharing one key log.
pub struct Peers {
    pub client: Arc<rustls::ClientConfig>,
    pub server: Arc<rustls::ServerConfig>,
    pub log: Arc<Lines>,
}

pub fn peers(setup: &Setup) -> Peers {
    let pki = pki();
    let mut provider = provider::default_provider();
    provider.cipher_suites = vec![setup.suite];
    let mut server_provider = provider.clone();
    if !setup.server_groups.is_empty() {
        server_provider.kx_groups = setup.server_groups.clone();
    }
    let log = Arc::new(Lines::default());
    let mut server_config = rustls::ServerConfig::builder_with_provider(Arc::new(server_provider))
        .with_protocol_versions(&[setup.version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
    server_config.alpn_protocols = vec![b"xmpp-client".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let mut client_config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[setup.version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.key_log = log.clone();
    client_config.alpn_protocols = vec![b"xmpp-client".to_vec()];
    Peers {
        client: Arc::new(client_config),
        server: Arc::new(server_config),
        log,
    }
}

/// One TLS session carrying `dialogue`: STARTTLS first, or TLS from the first byte
/// (XEP-0368). With `key_update`, both sides send a KeyUpdate (RFC 8446 §4.6.3) before
/// the thirteenth line.
pub fn session_with(
    peers: &Peers,
    dialogue: &[(bool, String)],
    starttls: bool,
    port: u16,
    mss: usize,
    key_update: bool,
) -> Vec<Packet> {
    let mut client =
        rustls::ClientConnection::new(peers.client.clone(), "example.org".try_into().unwrap())
            .unwrap();
    let mut server = rustls::ServerConnection::new(peers.server.clone()).unwrap();

    let mut conv = Conversation::new(
        "192.0.2.1:40000".parse().unwrap(),
        std::net::SocketAddr::from(([192, 0, 2, 2], port)),
        Link::Ethernet,
        Timestamp(1_700_000_000_000_000_000),
    );
    conv.mss = mss;
    let mut packets = conv.handshake();
    if starttls {
        packets.extend(conv.send(true, client_header("example.org").as_bytes()));
        packets.extend(conv.send(false, SERVER_OPEN.as_bytes()));
        packets.extend(conv.send(true, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
        packets.extend(conv.send(false, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    }

    let flush = |conv: &mut Conversation,
                 client: &mut rustls::ClientConnection,
                 server: &mut rustls::ServerConnection,
                 packets: &mut Vec<Packet>| loop {
        let mut moved = false;
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() {
            moved = true;
            packets.extend(conv.send(true, &wire));
            let mut rest = wire.as_slice();
            while !rest.is_empty() {
                server.read_tls(&mut rest).unwrap();
                server.process_new_packets().unwrap();
            }
        }
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        if !wire.is_empty() {
            moved = true;
            packets.extend(conv.send(false, &wire));
            let mut rest = wire.as_slice();
            while !rest.is_empty() {
                client.read_tls(&mut rest).unwrap();
                client.process_new_packets().unwrap();
            }
        }
        if !moved {
            break;
        }
    };
    flush(&mut conv, &mut client, &mut server, &mut packets);
    assert!(!client.is_handshaking() && !server.is_handshaking());
    for (i, (from_client, xml)) in dialogue.iter().enumerate() {
        let from_client = *from_client;
        if key_update && i == 12 {
            client.refresh_traffic_keys().unwrap();
            server.refresh_traffic_keys().unwrap();
        }
        if from_client {
            client.writer().write_all(xml.as_bytes()).unwrap();
        } else {
            server.writer().write_all(xml.as_bytes()).unwrap();
        }
        flush(&mut conv, &mut client, &mut server, &mut packets);
        // Check the peer got it, so the capture holds what a real peer would read.
        let mut got = Vec::new();
        // read_to_end ends with WouldBlock once the plaintext is drained.
        let _ = if from_client {
            server.reader().read_to_end(&mut got)
        } else {
            client.reader().read_to_end(&mut got)
        };
        assert_eq!(got, xml.as_bytes());
    }
    client.send_close_notify();
    server.send_close_notify();
    flush(&mut conv, &mut client, &mut server, &mut packets);
    packets.extend(conv.close());
    packets
}

pub fn setup(suite: rustls::SupportedCipherSuite, tls13: bool, mss: usize) -> Setup {
    Setup {
        suite,
        version: if tls13 {
            &rustls::version::TLS13
        } else {
            &rustls::version::TLS12
        },
        mss,
        server_groups: Vec::new(),
    }
}

impl Peers {
    /// What the key log holds so far.
    pub fn keylog(&self) -> String {
        self.log.0.lock().unwrap().clone()
    }
}
