//! The CA's certificates, read back as a client reads them (x509-parser), and, where `openssl`
//! is installed, checked by it: an independent verifier refuses what the CA must not vouch for.

use super::*;
use crate::config::SecretStoreChoice;
use rcgen::SanType;
use std::net::IpAddr;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

const DAY: i64 = 86_400;

fn first_cert(pem: &str) -> x509_parser::pem::Pem {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()).next().unwrap().unwrap()
}

fn lifetime_days(cert: &X509Certificate<'_>) -> i64 {
    (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / DAY
}

fn setup() -> (tempfile::TempDir, Secrets) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::open(dir.path(), SecretStoreChoice::File).unwrap();
    (dir, secrets)
}

#[test]
fn the_ca_is_constrained_to_the_home_critically_and_lives_five_years() {
    let (dir, secrets) = setup();
    let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    assert_eq!(ca.replaced, None, "a first CA replaces nothing");
    let pem = first_cert(&ca.cert_pem);
    let cert = pem.parse_x509().unwrap();
    assert!(cert.is_ca());
    assert_eq!(lifetime_days(&cert), 5 * 365);
    let nc = cert.name_constraints().unwrap().expect("name constraints");
    assert!(nc.critical, "a client that cannot read the constraints must refuse the CA");
    assert!(nc.value.excluded_subtrees.is_none());
    let permitted = nc.value.permitted_subtrees.as_ref().unwrap();
    let dns: Vec<&str> = permitted.iter().filter_map(|s| if let GeneralName::DNSName(d) = s.base { Some(d) } else { None }).collect();
    assert_eq!(dns, ["local", "localhost"]);
    let ranges: Vec<String> = permitted
        .iter()
        .filter_map(|s| if let GeneralName::IPAddress(b) = s.base { Some(b) } else { None })
        .map(|b| {
            let (addr, mask) = b.split_at(b.len() / 2);
            let prefix: u32 = mask.iter().map(|m| m.count_ones()).sum();
            let ip = if addr.len() == 4 {
                IpAddr::from(<[u8; 4]>::try_from(addr).unwrap())
            } else {
                IpAddr::from(<[u8; 16]>::try_from(addr).unwrap())
            };
            format!("{ip}/{prefix}")
        })
        .collect();
    assert_eq!(
        ranges,
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"]
    );
    let again = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    assert_eq!((again.cert_pem, again.replaced), (ca.cert_pem, None), "kept, not made again");
    // The CA's key is a secret, never next to its certificate.
    assert!(!std::fs::read_to_string(dir.path().join(CA_FILE)).unwrap().contains("PRIVATE KEY"));
}

#[test]
fn server_certificates_are_short_hold_only_home_names_and_are_renewed_when_needed() {
    let (dir, secrets) = setup();
    let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    let names = ["hearth-pi.local", "pi.local", "pi", "localhost", "example.com"].map(String::from);
    let addresses: Vec<IpAddr> =
        ["127.0.0.1", "10.0.0.2", "2001:db8::1", "fd00::2", "8.8.8.8"].iter().map(|a| a.parse().unwrap()).collect();
    let now = OffsetDateTime::now_utc();
    let files = ca.server_certificate_at(dir.path(), &names, &addresses, now).unwrap();
    let chain = std::fs::read_to_string(&files.cert).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "the server's certificate, then the CA's");
    let pem = first_cert(&chain);
    let cert = pem.parse_x509().unwrap();
    assert_eq!(lifetime_days(&cert), 90);
    let sans: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => (*d).to_owned(),
            GeneralName::IPAddress(b) => server::ip_from_bytes_for_tests(b),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(sans, ["hearth-pi.local", "localhost", "pi.local", "10.0.0.2", "127.0.0.1", "fd00::2"], "no bare name, no public address");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // A restart with the same names keeps it; 61 days on (less than a third left) it is renewed.
    let kept = ca.server_certificate_at(dir.path(), &names, &addresses, now + Duration::days(59)).unwrap();
    assert_eq!(std::fs::read_to_string(&kept.cert).unwrap(), chain);
    assert_eq!((kept.expires_at, kept.issued_now, files.issued_now), (files.expires_at, false, true));
    let renewed = ca.server_certificate_at(dir.path(), &names, &addresses, now + Duration::days(61)).unwrap();
    assert_ne!(std::fs::read_to_string(&renewed.cert).unwrap(), chain);
    assert!(renewed.expires_at > files.expires_at);
    // A new address (a new DHCP lease) gets a new certificate at once.
    let before = std::fs::read_to_string(&renewed.cert).unwrap();
    let moved = [addresses.clone(), vec!["192.168.1.7".parse().unwrap()]].concat();
    ca.server_certificate_at(dir.path(), &names, &moved, now + Duration::days(61)).unwrap();
    assert_ne!(std::fs::read_to_string(&renewed.cert).unwrap(), before);
}

/// What an earlier Hearth made: no name constraints, ten years.
fn old_unconstrained_ca(secrets: &Secrets, data_dir: &Path) -> String {
    let key = KeyPair::generate().unwrap();
    secrets.replace(CA_KEY_SECRET, key.serialize_pem().as_bytes()).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "Hearth home CA (pi)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = OffsetDateTime::now_utc() - Duration::days(1);
    params.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    let pem = params.self_signed(&key).unwrap().pem();
    std::fs::write(data_dir.join(CA_FILE), &pem).unwrap();
    key.serialize_pem()
}

#[test]
fn an_unconstrained_ten_year_ca_from_an_earlier_version_is_replaced_with_a_new_key() {
    let (dir, secrets) = setup();
    let old_key = old_unconstrained_ca(&secrets, dir.path());
    let old_pem = std::fs::read_to_string(dir.path().join(CA_FILE)).unwrap();
    let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    assert_eq!(ca.replaced, Some(CaReplacement::Unconstrained));
    assert_ne!(ca.cert_pem, old_pem);
    assert_eq!(std::fs::read_to_string(dir.path().join(CA_FILE)).unwrap(), ca.cert_pem);
    let new_key = secrets.get_or_create_with(CA_KEY_SECRET, || unreachable!()).unwrap();
    assert_ne!(
        new_key,
        old_key.into_bytes(),
        "the old key is gone: the old certificate, still installed somewhere, vouches for nothing new"
    );
    let pem = first_cert(&ca.cert_pem);
    assert!(pem.parse_x509().unwrap().name_constraints().unwrap().is_some());
    // Replaced once: the next start keeps the new one.
    assert_eq!(LocalCa::load_or_create(&secrets, dir.path()).unwrap().replaced, None);
}

#[test]
fn a_ca_near_its_end_or_without_its_key_is_replaced() {
    let (dir, secrets) = setup();
    let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    let near_the_end = OffsetDateTime::now_utc() + CA_LIFETIME - Duration::days(30);
    let renewed = LocalCa::load_or_create_at(&secrets, dir.path(), near_the_end).unwrap();
    assert_eq!(renewed.replaced, Some(CaReplacement::Expiring));
    assert_ne!(renewed.cert_pem, ca.cert_pem);
    // The keyring was reset: the certificate on file has no key any more.
    std::fs::remove_dir_all(dir.path().join("secrets")).unwrap();
    assert_eq!(LocalCa::load_or_create(&secrets, dir.path()).unwrap().replaced, Some(CaReplacement::Lost));
}

/// rcgen signs whatever it is asked to, so the CA's own code cannot show that a public name is
/// refused: an independent verifier must. OpenSSL checks name constraints in `verify`.
#[test]
fn openssl_refuses_a_public_name_the_ca_signed_and_accepts_the_home_server() {
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl is not installed: skipped");
        return;
    }
    let (dir, secrets) = setup();
    let ca = LocalCa::load_or_create(&secrets, dir.path()).unwrap();
    let ca_file = dir.path().join(CA_FILE);
    let verify = |leaf: &Path| {
        let out = std::process::Command::new("openssl").arg("verify").arg("-CAfile").arg(&ca_file).arg(leaf).output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    // Positive control: the server certificate Hearth issued verifies.
    let files = ca.server_certificate(dir.path(), &["pi.local".into()], &["192.168.1.2".parse().unwrap()]).unwrap();
    let (ok, out) = verify(&files.cert);
    assert!(ok, "{out}");
    // A forged leaf for a public name and a public address, signed with the CA's own key.
    for (name, address) in [("example.com", "192.168.1.2"), ("pi.local", "93.184.215.14")] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress(address.parse().unwrap()));
        params.distinguished_name.push(DnType::CommonName, name);
        let forged = params.signed_by(&key, &ca.issuer).unwrap();
        let path = dir.path().join("forged.pem");
        std::fs::write(&path, forged.pem()).unwrap();
        let (ok, out) = verify(&path);
        assert!(!ok, "{name} {address} must be refused: {out}");
        assert!(out.contains("subtree"), "refused for the name constraints: {out}");
    }
}
