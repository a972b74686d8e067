//! Software names: which product a caps node (XEP-0115 §4 `node`) or a software
//! version / disco identity name stands for, from `data/software.tsv` (each row
//! with its source; data/README.md).
//!
//! Input: a node URI or a name as seen on the wire; output: the product, its kind
//! (client, library, server, gateway) and a version when the node carries one
//! (`http://slixmpp.com/ver/1.17.0`).

use std::sync::OnceLock;

const TABLE: &str = include_str!("../../data/software.tsv");

/// A product the table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub name: &'static str,
    pub kind: &'static str,
}

struct Row {
    by_caps: bool,
    key: String,
    product: Product,
}

fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        TABLE
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let (by, key, name, kind) =
                    (cols.next()?, cols.next()?, cols.next()?, cols.next()?);
                Some(Row {
                    by_caps: by == "caps",
                    key: if by == "caps" {
                        normalize_node(key)
                    } else {
                        key.to_lowercase()
                    },
                    product: Product { name, kind },
                })
            })
            .collect()
    })
}

/// A node without its scheme and trailing `/`, host lower-cased: `http://` and
/// `https://` forms of one address name one product.
fn normalize_node(node: &str) -> String {
    let rest = node
        .strip_prefix("https://")
        .or_else(|| node.strip_prefix("http://"))
        .unwrap_or(node);
    let rest = rest.trim_end_matches('/');
    match rest.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_lowercase()),
        None => rest.to_lowercase(),
    }
}

/// The product a caps node names (the longest known prefix ending at a `/`, `#`
/// or `?` boundary), with the version the node carries after it, if any.
pub fn by_node(node: &str) -> Option<(Product, Option<String>)> {
    let node = normalize_node(node);
    let row = rows()
        .iter()
        .filter(|r| r.by_caps)
        .filter(|r| {
            node.strip_prefix(r.key.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '#', '?']))
        })
        .max_by_key(|r| r.key.len())?;
    let rest = node.get(row.key.len()..).unwrap_or_default();
    let version = rest
        .strip_prefix('/')
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned);
    (row.product.kind != "none").then_some((row.product, version))
}

/// Whether the table lists `node` as a known node that names no software (an
/// ad-hoc commands node, say).
pub fn is_not_software(node: &str) -> bool {
    let node = normalize_node(node);
    rows()
        .iter()
        .any(|r| r.by_caps && r.product.kind == "none" && r.key == node)
}

/// The product a software version or identity name names: the table's name as
/// the whole name or its first word (`jabberd 7.7.0` → jabberd, version 7.7.0).
pub fn by_name(name: &str) -> Option<(Product, Option<String>)> {
    let lower = name.trim().to_lowercase();
    rows().iter().filter(|r| !r.by_caps).find_map(|r| {
        if lower == r.key {
            return Some((r.product, None));
        }
        let rest = lower.strip_prefix(r.key.as_str())?.strip_prefix(' ')?;
        let version = rest
            .split_whitespace()
            .next()
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_owned);
        Some((r.product, version))
    })
}

/// How many products the table names.
pub fn products() -> usize {
    let mut names: Vec<&str> = rows()
        .iter()
        .filter(|r| r.product.kind != "none")
        .map(|r| r.product.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_name_products_by_longest_prefix() {
        assert!(products() >= 40, "{}", products());
        let (p, v) = by_node("http://slixmpp.com/ver/1.17.0").unwrap();
        assert_eq!((p.name, v.as_deref()), ("slixmpp", Some("1.17.0")));
        assert_eq!(
            by_node("https://conversations.im").unwrap().0.name,
            "Conversations"
        );
        assert_eq!(by_node("http://pidgin.im/").unwrap().0.name, "Pidgin");
        assert_eq!(by_node("http://prosody.im").unwrap().0.kind, "server");
        assert_eq!(
            by_node("http://www.igniterealtime.org/projects/smack/")
                .unwrap()
                .0
                .name,
            "Smack"
        );
        // Not a prefix at a boundary, not software, unknown.
        assert_eq!(by_node("http://prosody.imposter.example"), None);
        assert_eq!(by_node("http://jabber.org/protocol/commands"), None);
        assert_eq!(by_node("urn:example:nothing"), None);
    }

    #[test]
    fn names_with_versions() {
        let (p, v) = by_name("jabberd 7.7.0.17569").unwrap();
        assert_eq!((p.name, v.as_deref()), ("jabberd", Some("7.7.0.17569")));
        assert_eq!(by_name("Prosody").unwrap().0.kind, "server");
        assert_eq!(by_name("prosodyx"), None);
    }
}
