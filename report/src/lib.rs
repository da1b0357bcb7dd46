//! The improvement report: what an SRE team does with APM data once the demo is over.
//!
//! `tracedojo report` reads an explorer's JSON API (so it works against any running explorer,
//! not only the shop's), judges each endpoint against its objectives ([`objectives`]) by how
//! fast it spends its error budget over a long and a short window ([`burn`], [`assess`]), and
//! for the endpoints that most need work gathers why ([`gather`]): exemplar traces, where
//! their time goes, database hints, where failures begin and whom they hit, the handler's
//! code. It writes Markdown in English or Japanese ([`markdown`]) or JSON ([`model`]), and
//! posts to a chat webhook or a ticket tracker ([`post`]).
//!
//! Files: [`objectives`] reads the objectives file; [`burn`] is the error-budget arithmetic;
//! [`explorer`] is the API client; [`assess`] judges without any network; [`gather`] makes a
//! report; [`model`] is its shape; [`markdown`] and [`words`] write it; [`post`] sends it;
//! [`repeat`] remembers what was posted; [`explain`] lays out one trace's explanation.

pub mod assess;
pub mod burn;
pub mod explain;
pub mod explorer;
pub mod gather;
pub mod markdown;
pub mod model;
pub mod objectives;
pub mod post;
pub mod repeat;
pub mod words;

#[cfg(test)]
mod fixture;

/// The languages a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

/// A duration as the explorer's API writes them (`250ms`, `1.5s`, `5m`, `1h`, `7d`; a bare
/// number means milliseconds), in nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    tracedojo_explorer::query::params::duration("duration", text).map_err(|bad| bad.message)
}
