//! PEM in and out: a tolerant reader that reports each bad block instead of
//! giving up on the file, and the certifi-style writer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::select::Root;

/// Labels whose body is an X.509 certificate. `TRUSTED CERTIFICATE` is
/// OpenSSL's form with trust settings appended; the certificate comes first.
const CERTIFICATE_LABELS: [&str; 3] = ["CERTIFICATE", "X509 CERTIFICATE", TRUSTED_LABEL];
const TRUSTED_LABEL: &str = "TRUSTED CERTIFICATE";

/// Each PEM block of `input` in order: the certificate's DER, or why the block
/// was not one. Text outside blocks is ignored, as OpenSSL ignores it.
pub fn parse(input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
    without_lines(read_blocks(input, false))
}

/// As `parse`, but a `TRUSTED CERTIFICATE` block keeps OpenSSL's trust
/// settings (`X509_AUX`) after the certificate: what a source gives `select`.
pub fn parse_keeping_trust(input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
    without_lines(read_blocks(input, true))
}

/// As `parse_keeping_trust`, each block with the number of its BEGIN line
/// (from 1, as `str::lines` counts): the text before a block may describe it.
pub fn parse_with_lines(input: &[u8]) -> Vec<(usize, Result<Vec<u8>, String>)> {
    read_blocks(input, true)
}

type Block = (usize, Result<Vec<u8>, String>);

fn without_lines(blocks: Vec<Block>) -> Vec<Result<Vec<u8>, String>> {
    blocks.into_iter().map(|(_, block)| block).collect()
}

fn read_blocks(input: &[u8], keep_trust: bool) -> Vec<Block> {
    let text = String::from_utf8_lossy(input);
    let mut blocks = Vec::new();
    // (label, first line number, base64 body)
    let mut open: Option<(String, usize, String)> = None;
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim();
        if let Some(label) = marker(line, "-----BEGIN ") {
            if let Some((label, start, _)) = open.take() {
                blocks.push((start, Err(truncated(&label, start))));
            }
            open = Some((label.to_owned(), line_no, String::new()));
        } else if let Some(end_label) = marker(line, "-----END ") {
            match open.take() {
                Some((label, start, body)) if label == end_label => {
                    blocks.push((start, decode_block(&label, start, &body, keep_trust)));
                }
                Some((label, start, _)) => blocks.push((
                    start,
                    Err(format!(
                        "PEM block {label:?} at line {start} ends with {end_label:?}"
                    )),
                )),
                None => {} // A stray END line outside any block: text, ignored.
            }
        } else if let Some((_, _, body)) = open.as_mut() {
            body.push_str(line);
        }
    }
    if let Some((label, start, _)) = open {
        blocks.push((start, Err(truncated(&label, start))));
    }
    blocks
}

fn marker<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

fn truncated(label: &str, start: usize) -> String {
    format!("truncated PEM block {label:?} at line {start}: no END line")
}

fn decode_block(
    label: &str,
    start: usize,
    body: &str,
    keep_trust: bool,
) -> Result<Vec<u8>, String> {
    if !CERTIFICATE_LABELS.contains(&label) {
        return Err(format!(
            "PEM block {label:?} at line {start} is not a certificate"
        ));
    }
    let der = STANDARD
        .decode(body)
        .map_err(|err| format!("PEM block {label:?} at line {start} is not valid base64: {err}"))?;
    match first_element_len(&der) {
        Some(_) if keep_trust && label == TRUSTED_LABEL => Ok(der),
        Some(len) => Ok(der[..len].to_vec()),
        None => Err(format!(
            "PEM block {label:?} at line {start} is cut short or not DER"
        )),
    }
}

/// The first DER element of `der`, if it is a SEQUENCE that fits: a
/// certificate without what follows it (trust settings or noise).
pub fn first_element(der: &[u8]) -> Option<&[u8]> {
    first_element_len(der).map(|len| &der[..len])
}

/// The length of the first DER element (tag, length, contents) of `der`, if
/// it is a SEQUENCE that fits. Trailing bytes are trust settings or noise.
fn first_element_len(der: &[u8]) -> Option<usize> {
    if *der.first()? != 0x30 {
        return None;
    }
    let first = *der.get(1)? as usize;
    let (header, body) = if first < 0x80 {
        (2, first)
    } else {
        let count = first & 0x7f;
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = der.get(2..2 + count)?;
        (
            2 + count,
            bytes.iter().fold(0usize, |n, b| n << 8 | *b as usize),
        )
    };
    let total = header.checked_add(body)?;
    (total <= der.len()).then_some(total)
}

/// The bundle text: a header, then for each root a few `#` lines and its PEM
/// block, in certifi's style. Pure ASCII with LF endings.
pub fn render(header: &str, roots: &[Root]) -> String {
    let mut out = String::with_capacity(roots.len() * 2200);
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(&ascii(line));
        out.push('\n');
    }
    for root in roots {
        out.push('\n');
        out.push_str(&format!("# Subject: {}\n", ascii(&root.subject)));
        out.push_str(&format!("# Source: {}\n", ascii(&root.source.label())));
        out.push_str(&format!(
            "# SHA256 Fingerprint: {}\n",
            colon_hex(&root.sha256)
        ));
        out.push_str(&block(&root.der));
    }
    out
}

/// One `CERTIFICATE` block, 64 columns.
pub fn block(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Printable ASCII as is; anything else as `\u{..}` so comments stay ASCII.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c.to_string(),
            other => other.escape_unicode().to_string(),
        })
        .collect()
}

/// Lower-case hex, no separators (digests and serial numbers in our own text).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Upper-case hex with colons, as OpenSSL prints fingerprints.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of(der: &[u8]) -> String {
        block(der)
    }

    #[test]
    fn keeps_good_blocks_around_bad_ones() {
        let good = [0x30, 0x03, 0x02, 0x01, 0x05];
        let text = format!(
            "garbage before\n{}noise between\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
             -----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n{}-----BEGIN CERTIFICATE-----\nMAMC\n",
            pem_of(&good),
            pem_of(&good)
        );
        let blocks = parse(text.as_bytes());
        assert_eq!(blocks.len(), 5);
        assert_eq!(blocks[0].as_deref(), Ok(&good[..]));
        assert!(blocks[1]
            .as_ref()
            .unwrap_err()
            .contains("not a certificate"));
        assert!(blocks[2].as_ref().unwrap_err().contains("base64"));
        assert_eq!(blocks[3].as_deref(), Ok(&good[..]));
        assert!(blocks[4].as_ref().unwrap_err().contains("truncated"));
    }

    #[test]
    fn trusted_certificate_keeps_only_the_certificate() {
        let with_aux = [0x30, 0x03, 0x02, 0x01, 0x05, 0x30, 0x00];
        let text = pem_of(&with_aux).replace("CERTIFICATE", "TRUSTED CERTIFICATE");
        assert_eq!(parse(text.as_bytes())[0].as_deref(), Ok(&with_aux[..5]));
        assert_eq!(
            parse_keeping_trust(text.as_bytes())[0].as_deref(),
            Ok(&with_aux[..])
        );
        let plain = pem_of(&with_aux);
        assert_eq!(
            parse_keeping_trust(plain.as_bytes())[0].as_deref(),
            Ok(&with_aux[..5]),
            "only a TRUSTED CERTIFICATE block carries trust settings"
        );
    }

    #[test]
    fn long_form_lengths_and_short_input() {
        let mut der = vec![0x30, 0x81, 0x80];
        der.extend([0u8; 0x80]);
        assert_eq!(first_element_len(&der), Some(0x83));
        assert_eq!(first_element_len(&der[..50]), None);
        assert_eq!(first_element_len(&[0x02, 0x00]), None);
    }

    #[test]
    fn comments_are_ascii() {
        assert_eq!(ascii("Café\nx"), "Caf\\u{e9}\\u{a}x");
    }

    #[test]
    fn blocks_wrap_at_64_columns() {
        let mut der = vec![0x30, 98];
        der.extend([7u8; 98]);
        let pem = block(&der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(parse(pem.as_bytes())[0].as_deref(), Ok(&der[..]));
    }
}
