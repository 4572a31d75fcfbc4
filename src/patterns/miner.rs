//! Online log template miner.
//!
//! Each message is masked ([`super::mask`]) into a *signature*; identical signatures hit a
//! hash map and cost one lookup (the fast path: most lines of a log repeat a signature
//! seen before). A new signature is matched against the templates of its token count; it
//! joins the most similar template when enough of their constant tokens agree, and the
//! template generalizes the disagreeing positions to `<*>`. Otherwise it founds a new
//! template.
//!
//! A template a signature can join differs from it in at most one position, so it shares
//! a token with the signature at one of any two positions. Templates are indexed by
//! (length, position, token), and a new signature is compared only with those sharing a
//! token at its two rarest positions: its cost does not grow with the number of
//! templates, however many distinct shapes a hostile object brings.
//!
//! Template ids are stable: a template's id is the hash of the signature that founded it,
//! so two processes that see the same first message of a kind give it the same id, and
//! generalizing a template never changes its id.

use std::collections::HashMap;

use smart_default::SmartDefault;
use xxhash_rust::xxh3::xxh3_64;

use super::mask::{Masker, WILDCARD};

/// A template's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PatternId(pub u64);

impl PatternId {
    /// Sixteen hex digits, the form written to `PatternId` columns and CSV.
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// Reads the form [`PatternId::to_hex`] writes.
    pub fn from_hex(s: &str) -> Option<PatternId> {
        (s.len() == 16)
            .then(|| u64::from_str_radix(s, 16).ok().map(PatternId))
            .flatten()
    }

    /// The id a signature gets when it founds a template.
    pub fn of_signature(signature: &str) -> PatternId {
        PatternId(xxh3_64(signature.as_bytes()))
    }
}

impl std::fmt::Display for PatternId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Miner settings. The defaults are the ones every evaluation uses; no log source needs
/// its own.
#[derive(Debug, Clone, SmartDefault)]
pub struct MinerConfig {
    /// Distinct values a position must show, among templates that agree everywhere else,
    /// before it is taken for a variable (two values are more often two event kinds).
    #[default(3)]
    pub min_distinct_values: usize,
    /// Constant tokens that must agree elsewhere before a differing position can be taken
    /// for a variable: in short messages a differing word is the message.
    #[default(3)]
    pub min_constant_tokens: usize,
    /// Distinct signatures kept for the fast path; past this the least used are dropped
    /// (they still match their template, through the slower path).
    #[default(200_000)]
    pub max_signatures: usize,
    /// Bytes of signature text kept for the fast path (the same eviction).
    #[default(32 * 1024 * 1024)]
    pub max_signature_bytes: usize,
    /// Templates held; past this a new shape is not learned: it gets the id of its
    /// signature, unmined, so a flood of distinct shapes costs bounded memory.
    #[default(50_000)]
    pub max_templates: usize,
}

/// One template.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub id: PatternId,
    tokens: Vec<Box<str>>,
    pub count: u64,
    /// Set when this template was merged into another one.
    merged_into: Option<u32>,
}

impl Cluster {
    pub fn template(&self) -> String {
        self.tokens.join(" ")
    }

    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(|t| &**t)
    }
}

/// What [`TemplateMiner::add`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// Index of the template in this miner ([`TemplateMiner::cluster`]).
    pub index: usize,
    pub id: PatternId,
    /// The message founded a new template.
    pub created: bool,
    /// The template's text changed (generalized) because of this message.
    pub changed: bool,
}

#[derive(Debug)]
struct Signature {
    text: Box<str>,
    cluster: u32,
    hits: u64,
}

/// Groups messages into templates online; see the module docs.
#[derive(Debug)]
pub struct TemplateMiner {
    config: MinerConfig,
    masker: Masker,
    buf: String,
    signatures: HashMap<u64, Signature>,
    /// Bytes of signature text in `signatures`.
    signature_bytes: usize,
    clusters: Vec<Cluster>,
    /// Templates not merged into another.
    live: usize,
    by_length: HashMap<usize, Vec<u32>>,
    /// Templates by (length, position, hash of a constant token).
    constant_at: HashMap<(usize, usize, u64), Vec<u32>>,
    /// Templates by (length, position) whose token there holds a wildcard.
    wildcard_at: HashMap<(usize, usize), Vec<u32>>,
    by_id: HashMap<PatternId, u32>,
    /// `(absorbed, survivor)` ids of merges not yet taken by [`TemplateMiner::take_merges`].
    merges: Vec<(PatternId, PatternId)>,
    /// Index entries and candidate templates looked at so far: the miner's work, counted
    /// rather than timed (it must grow with the lines, not with lines x templates).
    work: std::sync::atomic::AtomicU64,
}

impl Default for TemplateMiner {
    fn default() -> Self {
        TemplateMiner::new(MinerConfig::default())
    }
}

impl TemplateMiner {
    /// An empty miner.
    pub fn new(config: MinerConfig) -> Self {
        TemplateMiner {
            config,
            masker: Masker::new(),
            buf: String::with_capacity(256),
            signatures: HashMap::new(),
            signature_bytes: 0,
            clusters: Vec::new(),
            live: 0,
            by_length: HashMap::new(),
            constant_at: HashMap::new(),
            wildcard_at: HashMap::new(),
            by_id: HashMap::new(),
            merges: Vec::new(),
            work: Default::default(),
        }
    }

    /// Index entries and candidate templates looked at since the miner was made.
    pub fn work(&self) -> u64 {
        self.work.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds a known template (from a pattern database) under its id. A template already
    /// known under that id is widened to cover both forms.
    pub fn insert_template(&mut self, id: PatternId, template: &str, count: u64) -> usize {
        let tokens: Vec<Box<str>> = if template.is_empty() {
            Vec::new()
        } else {
            template.split(' ').map(Box::from).collect()
        };
        if let Some(&existing) = self.by_id.get(&id) {
            let index = self.resolve(existing as usize);
            if self.clusters[index].tokens.len() == tokens.len() {
                self.widen(index as u32, &tokens);
            }
            return index;
        }
        let index = self.clusters.len() as u32;
        let n = tokens.len();
        self.clusters.push(Cluster {
            id,
            tokens,
            count,
            merged_into: None,
        });
        self.by_length.entry(n).or_default().push(index);
        self.by_id.insert(id, index);
        self.live += 1;
        self.index_tokens(index);
        index as usize
    }

    /// Adds every token of template `c` to the index.
    fn index_tokens(&mut self, c: u32) {
        let n = self.clusters[c as usize].tokens.len();
        for p in 0..n {
            self.index_token(c, n, p);
        }
    }

    /// Adds the token of template `c` at `p` to the index. A token that changed leaves its
    /// old entry behind: candidates are checked against the current tokens anyway.
    fn index_token(&mut self, c: u32, n: usize, p: usize) {
        let token = &self.clusters[c as usize].tokens[p];
        if has_wildcard(token) {
            self.wildcard_at.entry((n, p)).or_default().push(c);
        } else {
            let key = (n, p, xxh3_64(token.as_bytes()));
            self.constant_at.entry(key).or_default().push(c);
        }
    }

    /// Generalizes template `c` to cover `words` where they differ; whether it changed.
    fn widen<W: AsRef<str>>(&mut self, c: u32, words: &[W]) -> bool {
        let n = self.clusters[c as usize].tokens.len();
        let mut changed = false;
        for (p, w) in words.iter().enumerate().take(n) {
            let w = w.as_ref();
            let t = &self.clusters[c as usize].tokens[p];
            if **t != *w && !glob_match(t, w) {
                let wider = generalize(t, w);
                self.clusters[c as usize].tokens[p] = wider.into();
                self.index_token(c, n, p);
                changed = true;
            }
        }
        changed
    }

    /// Live templates of `words`' length that can agree with `words` at every position but
    /// one, by index (oldest first): those sharing a token at the two rarest positions
    /// without a wildcard in the signature. `None` when no two such positions exist, and
    /// every template of the length must be looked at.
    fn candidates(&self, words: &[&str], word_wildcards: &[bool]) -> Option<Vec<u32>> {
        let n = words.len();
        let mut positions: Vec<(usize, &[u32], &[u32])> = (0..n)
            .filter(|&p| !word_wildcards[p])
            .map(|p| {
                let key = (n, p, xxh3_64(words[p].as_bytes()));
                let constant = self.constant_at.get(&key).map_or(&[][..], Vec::as_slice);
                let wild = self.wildcard_at.get(&(n, p)).map_or(&[][..], Vec::as_slice);
                (p, constant, wild)
            })
            .collect();
        let needed = n.min(2);
        if positions.len() < needed || needed == 0 {
            return None;
        }
        positions.sort_by_key(|(_, constant, wild)| constant.len() + wild.len());
        let mut found: Vec<u32> = positions[..needed]
            .iter()
            .flat_map(|(_, constant, wild)| constant.iter().chain(wild.iter()).copied())
            .filter(|&c| self.clusters[c as usize].merged_into.is_none())
            .collect();
        found.sort_unstable();
        found.dedup();
        Some(found)
    }

    /// The templates of length `n` to compare a signature with.
    fn comparable(&self, words: &[&str], word_wildcards: &[bool]) -> Vec<u32> {
        let found = self.candidates(words, word_wildcards).unwrap_or_else(|| {
            self.by_length
                .get(&words.len())
                .cloned()
                .unwrap_or_default()
        });
        self.work.fetch_add(
            (words.len() + found.len()) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        found
    }

    /// Merges since the last call, as `(absorbed id, surviving id)`.
    pub fn take_merges(&mut self) -> Vec<(PatternId, PatternId)> {
        std::mem::take(&mut self.merges)
    }

    /// Its configuration.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Every template, merged ones included, by index.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Templates not merged into another one, with their indices.
    pub fn live_clusters(&self) -> impl Iterator<Item = (usize, &Cluster)> {
        self.clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.merged_into.is_none())
    }

    /// The template at `index`.
    pub fn cluster(&self, index: usize) -> &Cluster {
        &self.clusters[index]
    }

    /// The index of the template with id `id` in this miner.
    pub fn index_of(&self, id: PatternId) -> Option<usize> {
        self.by_id.get(&id).map(|&i| i as usize)
    }

    /// Mines one message.
    pub fn add(&mut self, message: &str) -> Assignment {
        let tokens = self.masker.mask(message, &mut self.buf);
        let key = xxh3_64(self.buf.as_bytes());
        if let Some(sig) = self.signatures.get_mut(&key)
            && *sig.text == *self.buf
        {
            sig.hits += 1;
            let mut index = sig.cluster as usize;
            while let Some(next) = self.clusters[index].merged_into {
                index = next as usize;
            }
            sig.cluster = index as u32;
            let cluster = &mut self.clusters[index];
            cluster.count += 1;
            return Assignment {
                index,
                id: cluster.id,
                created: false,
                changed: false,
            };
        }
        let signature = std::mem::take(&mut self.buf);
        let assignment = self.place(&signature, tokens);
        self.remember(key, &signature, assignment.index as u32);
        self.buf = signature;
        assignment
    }

    /// Finds the template a message belongs to without learning from it.
    pub fn match_message(&mut self, message: &str) -> Option<PatternId> {
        let tokens = self.masker.mask(message, &mut self.buf);
        let key = xxh3_64(self.buf.as_bytes());
        if let Some(sig) = self.signatures.get(&key)
            && *sig.text == *self.buf
        {
            return Some(self.clusters[self.resolve(sig.cluster as usize)].id);
        }
        let words: Vec<&str> = if self.buf.is_empty() {
            Vec::new()
        } else {
            self.buf.split(' ').collect()
        };
        debug_assert_eq!(words.len(), tokens);
        let word_wildcards: Vec<bool> = words.iter().map(|w| has_wildcard(w)).collect();
        self.comparable(&words, &word_wildcards)
            .into_iter()
            .map(|c| &self.clusters[c as usize])
            .find(|c| {
                c.tokens
                    .iter()
                    .zip(&words)
                    .all(|(t, w)| &**t == WILDCARD || **t == **w)
            })
            .map(|c| c.id)
    }

    fn remember(&mut self, key: u64, signature: &str, cluster: u32) {
        if self.signatures.len() >= self.config.max_signatures
            || self.signature_bytes + signature.len() > self.config.max_signature_bytes
        {
            self.evict_signatures();
        }
        self.signature_bytes += signature.len();
        let replaced = self.signatures.insert(
            key,
            Signature {
                text: signature.into(),
                cluster,
                hits: 1,
            },
        );
        if let Some(old) = replaced {
            self.signature_bytes -= old.text.len();
        }
    }

    /// Drops the least used half of the signature cache.
    fn evict_signatures(&mut self) {
        if self.signatures.is_empty() {
            return;
        }
        let mut hits: Vec<u64> = self.signatures.values().map(|s| s.hits).collect();
        let mid = hits.len() / 2;
        let (_, &mut median, _) = hits.select_nth_unstable(mid);
        let mut budget = mid.max(1);
        let mut freed = 0;
        self.signatures.retain(|_, s| {
            if s.hits <= median && budget > 0 {
                budget -= 1;
                freed += s.text.len();
                false
            } else {
                true
            }
        });
        self.signature_bytes -= freed;
    }

    fn place(&mut self, signature: &str, n: usize) -> Assignment {
        let words: Vec<&str> = if signature.is_empty() {
            Vec::new()
        } else {
            signature.split(' ').collect()
        };
        debug_assert_eq!(words.len(), n);
        let word_wildcards: Vec<bool> = words.iter().map(|w| has_wildcard(w)).collect();
        // Templates the signature fits as it is, and templates that differ from it in one
        // constant position (grouped by that position).
        let mut fits: Option<(u32, usize)> = None;
        let mut siblings: Vec<(usize, u32)> = Vec::new();
        for c in self.comparable(&words, &word_wildcards) {
            let cluster = &self.clusters[c as usize];
            match differences(&cluster.tokens, &words, &word_wildcards) {
                Difference::None { wildcards } => {
                    if fits.is_none_or(|(_, w)| wildcards < w) {
                        fits = Some((c, wildcards));
                    }
                }
                Difference::One { position, agree } => {
                    if agree >= self.config.min_constant_tokens {
                        siblings.push((position, c));
                    }
                }
                Difference::Many => {}
            }
        }
        if let Some((c, _)) = fits {
            let assignment = self.join(c, &words);
            if assignment.changed {
                return self.absorb_covered(c, assignment);
            }
            return assignment;
        }
        if let Some((_, group)) = self.variable_position(&siblings, &words) {
            let survivor = group[0];
            for &other in &group[1..] {
                self.absorb(survivor, other);
            }
            return self.join(survivor, &words);
        }
        if self.live >= self.config.max_templates {
            return self.overflow(n);
        }
        self.found(signature, words)
    }

    /// A new template of its own for a signature.
    fn found(&mut self, signature: &str, words: Vec<&str>) -> Assignment {
        let n = words.len();
        let id = self.unique_id(PatternId::of_signature(signature));
        let index = self.clusters.len() as u32;
        self.clusters.push(Cluster {
            id,
            tokens: words.iter().map(|w| Box::from(*w)).collect(),
            count: 1,
            merged_into: None,
        });
        self.by_length.entry(n).or_default().push(index);
        self.by_id.insert(id, index);
        self.index_tokens(index);
        self.live += 1;
        Assignment {
            index: index as usize,
            id,
            created: true,
            changed: false,
        }
    }

    /// Past `max_templates`: the all-wildcard template of the length, founded once, takes
    /// every shape no existing template fits.
    fn overflow(&mut self, n: usize) -> Assignment {
        let signature = vec![WILDCARD; n].join(" ");
        match self.by_id.get(&PatternId::of_signature(&signature)) {
            Some(&index) => {
                let index = self.resolve(index as usize);
                let cluster = &mut self.clusters[index];
                cluster.count += 1;
                Assignment {
                    index,
                    id: cluster.id,
                    created: false,
                    changed: false,
                }
            }
            None => {
                let words = vec![WILDCARD; n];
                self.found(&signature, words)
            }
        }
    }

    /// The position at which enough distinct values have now been seen among templates
    /// that agree everywhere else, with those templates (oldest first).
    fn variable_position(
        &self,
        siblings: &[(usize, u32)],
        words: &[&str],
    ) -> Option<(usize, Vec<u32>)> {
        if words.len() < 2 {
            return None;
        }
        let mut best: Option<(usize, Vec<u32>)> = None;
        let mut positions: Vec<usize> = siblings.iter().map(|&(p, _)| p).collect();
        positions.sort_unstable();
        positions.dedup();
        for p in positions {
            let mut group: Vec<u32> = siblings
                .iter()
                .filter(|&&(q, _)| q == p)
                .map(|&(_, c)| c)
                .collect();
            group.sort_unstable();
            let mut values: Vec<&str> = group
                .iter()
                .map(|&c| &*self.clusters[c as usize].tokens[p])
                .collect();
            values.push(words[p]);
            values.sort_unstable();
            values.dedup();
            if values.len() >= self.config.min_distinct_values
                && best.as_ref().is_none_or(|(_, g)| group.len() > g.len())
            {
                best = Some((p, group));
            }
        }
        best
    }

    /// Adds the signature to a template it fits, generalizing where needed.
    fn join(&mut self, c: u32, words: &[&str]) -> Assignment {
        let changed = self.widen(c, words);
        let cluster = &mut self.clusters[c as usize];
        cluster.count += 1;
        Assignment {
            index: c as usize,
            id: cluster.id,
            created: false,
            changed,
        }
    }

    /// After template `c` generalized, merges into it the templates it now covers, so one
    /// kind of message never ends up split between two templates.
    fn absorb_covered(&mut self, c: u32, assignment: Assignment) -> Assignment {
        let tokens: Vec<&str> = self.clusters[c as usize].tokens().collect();
        let wildcards: Vec<bool> = tokens.iter().map(|t| has_wildcard(t)).collect();
        let covered: Vec<u32> = self
            .comparable(&tokens, &wildcards)
            .into_iter()
            .filter(|&o| {
                o != c
                    && self.clusters[c as usize]
                        .tokens
                        .iter()
                        .zip(&self.clusters[o as usize].tokens)
                        .all(|(t, w)| glob_match(t, w))
            })
            .collect();
        if covered.is_empty() {
            return assignment;
        }
        let survivor = covered.iter().copied().fold(c, u32::min);
        for o in covered.into_iter().chain(std::iter::once(c)) {
            if o != survivor {
                self.absorb(survivor, o);
            }
        }
        let cluster = &self.clusters[survivor as usize];
        Assignment {
            index: survivor as usize,
            id: cluster.id,
            created: false,
            changed: true,
        }
    }

    /// Merges template `other` into `survivor`.
    fn absorb(&mut self, survivor: u32, other: u32) {
        let (count, tokens) = {
            let o = &mut self.clusters[other as usize];
            o.merged_into = Some(survivor);
            (o.count, std::mem::take(&mut o.tokens))
        };
        self.live -= 1;
        let from = self.clusters[other as usize].id;
        self.merges
            .push((from, self.clusters[survivor as usize].id));
        let n = tokens.len();
        self.clusters[survivor as usize].count += count;
        self.widen(survivor, &tokens);
        if let Some(bucket) = self.by_length.get_mut(&n) {
            bucket.retain(|&c| c != other);
        }
    }

    /// The live template a (possibly merged) template index now belongs to.
    pub fn resolve(&self, mut index: usize) -> usize {
        while let Some(next) = self.clusters[index].merged_into {
            index = next as usize;
        }
        index
    }

    fn unique_id(&self, mut id: PatternId) -> PatternId {
        while self.by_id.contains_key(&id) {
            id = PatternId(id.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
        }
        id
    }
}

enum Difference {
    None {
        wildcards: usize,
    },
    /// One position differs; `agree` positions hold the same constant on both sides.
    One {
        position: usize,
        agree: usize,
    },
    Many,
}

/// How a template and a signature of the same length differ: positions where either side
/// has a wildcard covering the other agree.
/// `word_wildcards[p]` says whether `words[p]` holds a wildcard (computed once per message,
/// not once per candidate template).
fn differences(template: &[Box<str>], words: &[&str], word_wildcards: &[bool]) -> Difference {
    let mut wildcards = 0;
    let mut agree = 0;
    let mut differing = None;
    for (p, (t, w)) in template.iter().zip(words).enumerate() {
        if **t == **w {
            if !word_wildcards[p] {
                agree += 1;
            }
            continue;
        }
        if glob_match(t, w) || (word_wildcards[p] && glob_match(w, t)) {
            wildcards += 1;
            continue;
        }
        if differing.is_some() {
            return Difference::Many;
        }
        differing = Some(p);
    }
    match differing {
        None => Difference::None { wildcards },
        Some(position) => Difference::One { position, agree },
    }
}

/// Position of the first `<*>` in `b` at or after `from`: a `memchr` for the rare `*`
/// and a look at its neighbours, cheaper than a substring searcher per call.
#[inline]
fn find_wildcard(b: &[u8], mut from: usize) -> Option<usize> {
    while let Some(i) = memchr::memchr(b'*', b.get(from..)?) {
        let star = from + i;
        if star >= 1 && b[star - 1] == b'<' && b.get(star + 1) == Some(&b'>') {
            return Some(star - 1);
        }
        from = star + 1;
    }
    None
}

/// Whether a token holds a wildcard.
#[inline]
pub fn has_wildcard(token: &str) -> bool {
    find_wildcard(token.as_bytes(), 0).is_some()
}

/// Whether `text` fits `pattern`, whose `<*>` parts stand for any text, empty included
/// (`()` is an empty value where `(<*>)` is expected).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern == WILDCARD {
        return true;
    }
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    let pb = pattern.as_bytes();
    let mut from = 0usize;
    let mut done = false;
    let mut parts = std::iter::from_fn(|| {
        if done {
            return None;
        }
        let at = find_wildcard(pb, from).unwrap_or_else(|| {
            done = true;
            pb.len()
        });
        let part = &pattern[from..at];
        from = (at + WILDCARD.len()).min(pb.len());
        Some(part)
    });
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts = parts.peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.len() >= part.len() && rest.ends_with(part);
        }
        match memchr::memmem::find(rest.as_bytes(), part.as_bytes()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The most specific form covering two different tokens: their common prefix up to a
/// delimiter and common suffix from one, around a wildcard (`rhost=a.example` and
/// `rhost=<*>` give `rhost=<*>`).
fn generalize(a: &str, b: &str) -> String {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let is_delim = |c: u8| {
        matches!(
            c,
            b'=' | b':' | b'/' | b'(' | b'[' | b'.' | b'-' | b'@' | b'#' | b','
        )
    };
    let mut prefix = 0;
    let mut keep = 0;
    while prefix < ab.len() && prefix < bb.len() && ab[prefix] == bb[prefix] {
        if is_delim(ab[prefix]) {
            keep = prefix + 1;
        }
        prefix += 1;
    }
    let close = |c: u8| matches!(c, b')' | b']' | b',' | b':' | b';' | b'.' | b'\'' | b'"');
    let mut suffix = 0;
    let mut keep_end = 0;
    while suffix < ab.len() - keep
        && suffix < bb.len() - keep
        && ab[ab.len() - 1 - suffix] == bb[bb.len() - 1 - suffix]
    {
        let c = ab[ab.len() - 1 - suffix];
        if close(c) {
            keep_end = suffix + 1;
        } else {
            break;
        }
        suffix += 1;
    }
    let mut out = String::with_capacity(keep + 3 + keep_end);
    out.push_str(&a[..keep]);
    out.push_str(WILDCARD);
    out.push_str(&a[a.len() - keep_end..]);
    // `<*>` inside a longer token only helps when something constant surrounds it.
    if out.len() == WILDCARD.len() {
        return WILDCARD.to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_of(miner: &TemplateMiner, a: Assignment) -> String {
        miner.cluster(miner.resolve(a.index)).template()
    }

    /// Lines of random words: every line a new shape, the miner's worst case.
    fn random_word_lines(n: usize) -> Vec<String> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let words = 6 + next() % 5;
                (0..words)
                    .map(|_| {
                        let len = 3 + next() % 6;
                        (0..len)
                            .map(|_| char::from(b'a' + (next() % 26) as u8))
                            .collect::<String>()
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn new_shapes_cost_about_the_same_whatever_the_number_of_templates() {
        let work = |n: usize| {
            let mut m = TemplateMiner::default();
            for line in random_word_lines(n) {
                m.add(&line);
            }
            (m.work(), m.live)
        };
        let (small, templates_small) = work(5_000);
        let (large, templates_large) = work(40_000);
        assert!(templates_large > 30_000, "{templates_large} templates");
        assert!(templates_small > 3_000, "{templates_small} templates");
        // Linear would be 8x; comparing every template of a length would be about 64x.
        let ratio = large as f64 / small.max(1) as f64;
        eprintln!("miner: work {small} for 5k lines, {large} for 40k ({ratio:.1}x)");
        assert!(ratio <= 16.0, "work {large} against {small}: {ratio:.1}x");
    }

    #[test]
    fn numbers_do_not_split_templates() {
        let mut m = TemplateMiner::default();
        let a = m.add("Received block blk_1 of size 67108864 from /10.0.0.1");
        let b = m.add("Received block blk_-22 of size 512 from /10.0.0.2");
        assert!(a.created && !b.created);
        assert_eq!(a.id, b.id);
        assert_eq!(
            template_of(&m, b),
            "Received block <*> of size <*> from <*>"
        );
    }

    #[test]
    fn a_differing_word_needs_evidence_before_it_becomes_a_variable() {
        let mut m = TemplateMiner::default();
        let failed = m.add("Failed password for invalid user webmaster from 1.2.3.4 port 1 ssh2");
        let accepted =
            m.add("Accepted password for invalid user webmaster from 1.2.3.4 port 2 ssh2");
        assert_ne!(failed.id, accepted.id, "two values are two kinds of event");
        let chen = m.add("Failed password for invalid user chen from 1.2.3.5 port 3 ssh2");
        assert_ne!(chen.id, failed.id);
        let test9 = m.add("Failed password for invalid user test9 from 1.2.3.6 port 4 ssh2");
        // Three user names: the position is a variable and the templates merge, keeping
        // the oldest id.
        assert_eq!(test9.id, failed.id);
        assert_eq!(
            template_of(&m, test9),
            "Failed password for invalid user <*> from <*> port <*> ssh2"
        );
        assert_eq!(m.resolve(chen.index), m.resolve(failed.index));
        assert_ne!(m.resolve(accepted.index), m.resolve(failed.index));
        let again = m.add("Failed password for invalid user oracle from 1.2.3.7 port 5 ssh2");
        assert_eq!(again.id, failed.id);
        assert!(!again.changed);
    }

    #[test]
    fn short_messages_keep_their_words() {
        let mut m = TemplateMiner::default();
        let ids: Vec<_> = [
            "cupsd startup succeeded",
            "hcid startup succeeded",
            "sdpd startup succeeded",
        ]
        .iter()
        .map(|l| m.add(l).id)
        .collect();
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
    }

    #[test]
    fn matching_does_not_learn() {
        let mut m = TemplateMiner::default();
        let a = m.add("session opened for user news by (uid=0)");
        assert_eq!(
            m.match_message("session opened for user news by (uid=7)"),
            Some(a.id)
        );
        assert_eq!(m.match_message("something else entirely"), None);
        assert_eq!(m.clusters().len(), 1);
    }

    #[test]
    fn ids_are_stable_across_miners_and_round_trip_as_hex() {
        let mut a = TemplateMiner::default();
        let mut b = TemplateMiner::default();
        let x = a.add("Deleting block blk_1 file /data/blk_1");
        b.add("unrelated line first");
        let y = b.add("Deleting block blk_2 file /data/blk_2");
        assert_eq!(x.id, y.id);
        assert_eq!(PatternId::from_hex(&x.id.to_hex()), Some(x.id));
    }

    #[test]
    fn globs() {
        assert!(glob_match("rhost=<*>", "rhost=a.b"));
        assert!(glob_match("(<*>)", "()"));
        assert!(!glob_match("user=<*>", "uid=0"));
        assert!(glob_match("<*>:<*>", "a:b"));
        assert!(!glob_match("abc", "abd"));
    }

    #[test]
    fn generalize_keeps_delimited_context() {
        assert_eq!(generalize("rhost=a.example.com", "rhost=<*>"), "rhost=<*>");
        assert_eq!(generalize("webmaster", "chen"), "<*>");
        assert_eq!(generalize("'abc'", "'de'"), "<*>'");
    }
}
