//! Server certificates as a user wants to see them: subject, issuer, subject
//! alternative names (including XMPP's id-on-xmppAddr and SRVName, RFC 6120
//! §13.7.1.4) and validity.
//!
//! Input: DER bytes from a Certificate message; output: [`CertificateInfo`].
//! Parsing is `x509-parser`'s; a certificate it rejects is reported as unparsed.

use crate::model::CertificateInfo;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// id-on-xmppAddr (RFC 6120 §13.7.1.4) and id-on-dnsSRV (RFC 4985).
const XMPP_ADDR: &str = "1.3.6.1.5.5.7.8.5";
const SRV_NAME: &str = "1.3.6.1.5.5.7.8.7";

pub fn describe(der: &[u8]) -> CertificateInfo {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return CertificateInfo {
            subject: format!("(unparsed certificate, {} bytes)", der.len()),
            ..CertificateInfo::default()
        };
    };
    let time = |t: x509_parser::time::ASN1Time| {
        let d = t.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    };
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => san.push(format!("DNS:{d}")),
                GeneralName::RFC822Name(m) => san.push(format!("email:{m}")),
                GeneralName::URI(u) => san.push(format!("URI:{u}")),
                GeneralName::IPAddress(ip) => san.push(format!("IP:{}", ip_text(ip))),
                GeneralName::OtherName(oid, value) => {
                    let oid = oid.to_id_string();
                    let label = match oid.as_str() {
                        XMPP_ADDR => "xmppAddr",
                        SRV_NAME => "SRVName",
                        _ => {
                            san.push(format!("otherName:{oid}"));
                            continue;
                        }
                    };
                    san.push(format!("{label}:{}", inner_string(value)));
                }
                _ => {}
            }
        }
    }
    CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        san,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
    }
}

fn ip_text(ip: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(ip) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    format!("({} bytes)", ip.len())
}

/// The string inside an otherName value: `[0] EXPLICIT` around a UTF8String or
/// IA5String, each with a short DER length.
fn inner_string(value: &[u8]) -> String {
    let mut v = value;
    for _ in 0..2 {
        match v {
            [_, len, rest @ ..] if usize::from(*len) <= rest.len() && *len < 0x80 => {
                v = rest.get(..usize::from(*len)).unwrap_or_default();
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(v).into_owned()
}
