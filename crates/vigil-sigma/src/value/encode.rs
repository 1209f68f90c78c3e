//! Value transformations: `windash` permutations, UTF-16 encodings,
//! `base64`, `base64offset` and `expand` placeholders.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::HashMap;

use super::pattern::DASHES;

/// Most values one rule value may expand into (windash, expand).
pub(crate) const MAX_VARIANTS: usize = 4096;

/// Every permutation of the windash characters in `raw`, or None when there
/// would be more than [`MAX_VARIANTS`].
pub(crate) fn windash_variants(raw: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    for c in raw.chars() {
        if DASHES.contains(&c) {
            if out.len() * DASHES.len() > MAX_VARIANTS {
                return None;
            }
            out = out
                .iter()
                .flat_map(|p| {
                    DASHES.iter().map(move |d| {
                        let mut s = p.clone();
                        s.push(*d);
                        s
                    })
                })
                .collect();
        } else {
            out.iter_mut().for_each(|s| s.push(c));
        }
    }
    Some(out)
}

pub(crate) fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub(crate) fn utf16be(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// UTF-16 with a byte order mark (`FF FE`), little-endian.
pub(crate) fn utf16_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(utf16le(text));
    out
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The three forms `bytes` takes inside a longer base64 text, for the three
/// alignments of its first byte. Characters that also depend on the
/// surrounding bytes are dropped; forms left empty are left out.
pub(crate) fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut buf = vec![0u8; shift];
        buf.extend_from_slice(bytes);
        let enc = STANDARD.encode(&buf);
        // A leading byte fills 8 of the first 12 bits: the first char is the
        // prefix's alone, the second mixes; two leading bytes span 16 bits.
        let start = [0, 2, 3][shift];
        // A last group of one byte leaves "X?==", of two bytes "XX?=":
        // the char before the padding mixes in what follows.
        let end_cut = [0, 3, 2][buf.len() % 3];
        let end = enc.len() - end_cut;
        if start < end {
            let form = enc[start..end].to_string();
            if !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

#[derive(Debug)]
pub(crate) enum ExpandError {
    Unknown(String),
    TooMany,
}

/// Replaces each `%name%` in a Sigma string by each of the placeholder's
/// values (every combination); `\%` is a plain percent sign. Other escapes
/// are kept for the wildcard parser.
pub(crate) fn expand(
    raw: &str,
    placeholders: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>, ExpandError> {
    let mut out = vec![String::new()];
    let push_all = |out: &mut Vec<String>, s: &str| out.iter_mut().for_each(|o| o.push_str(s));
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(pos) = rest.find(['%', '\\']) else {
            push_all(&mut out, rest);
            break;
        };
        push_all(&mut out, &rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("\\%") {
            push_all(&mut out, "%");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\\\") {
            push_all(&mut out, "\\\\");
            rest = after;
        } else if let Some(after) = tail.strip_prefix('\\') {
            push_all(&mut out, "\\");
            rest = after;
        } else {
            // `%`: a placeholder when a closing `%` follows.
            let body = &tail[1..];
            match body.find('%') {
                Some(close) => {
                    let name = &body[..close];
                    let values = placeholders
                        .get(name)
                        .ok_or_else(|| ExpandError::Unknown(name.to_string()))?;
                    if out.len().saturating_mul(values.len()) > MAX_VARIANTS {
                        return Err(ExpandError::TooMany);
                    }
                    out = out
                        .iter()
                        .flat_map(|o| values.iter().map(move |v| format!("{o}{v}")))
                        .collect();
                    rest = &body[close + 1..];
                }
                None => {
                    push_all(&mut out, tail);
                    break;
                }
            }
        }
    }
    Ok(out)
}
