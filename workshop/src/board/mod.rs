//! The facilitator's progress board (`tracedojo workshop board`): a page for the room's screen
//! showing who is on which lesson and who has been stuck longest, fed by the participants'
//! own `workshop start`, `check` and `hint` when, and only when, they opt in with `--board URL
//! --board-code CODE` ([`client`]).
//!
//! | method and path | who may | what it does |
//! |---|---|---|
//! | `GET /` | anyone who reaches it | the page (`page.rs`); it holds no data |
//! | `GET /api/board` | the token's holder | every participant, the longest stuck first |
//! | `POST /api/board/reports` | whoever has the join code | one event of a participant's workshop |
//!
//! Participants need no token (they are on other laptops); the join code admits their reports,
//! and a wrong one is refused with 403. Beyond loopback the board refuses to start without a
//! token of at least 16 characters; without one, it answers only requests naming a loopback
//! host. Requests from another site's page (an `Origin` that is not the board) are refused.
//! Everything is kept in memory, bounded ([`state`]), and forgotten when the board stops.

mod api;
pub mod client;
mod page;
pub mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tracedojo_web::guard::Exposure;

pub use client::Reporter;
pub use state::Event;

use crate::text::Lang;

/// The shortest token a board takes, as for the kiosk.
pub use tracedojo_web::guard::MIN_TOKEN_CHARS;
/// Join codes made up for the facilitator: no 0/O, 1/I/L or U/V to mistake across a room.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";
const CODE_CHARS: usize = 6;

/// How a board is set up.
#[derive(Debug, Clone)]
pub struct BoardConfig {
    /// The join code participants give (normalised by [`parse_code`] or made by [`new_code`]).
    pub code: String,
    /// Needed to read the board; checked by [`check_exposure`].
    pub token: Option<String>,
    /// The address participants give to `--board`, shown on the page.
    pub join_url: String,
}

/// A refusal said in both languages of the workshop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub en: String,
    pub ja: String,
}

impl Said {
    fn new(en: impl Into<String>, ja: impl Into<String>) -> Said {
        Said {
            en: en.into(),
            ja: ja.into(),
        }
    }

    /// The sentence in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        lang.say(self.en.clone(), self.ja.clone())
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// The board's page and API.
pub fn router(config: BoardConfig) -> Router {
    let titles: BTreeMap<u32, (String, String)> = crate::catalogue()
        .map(|lessons| {
            lessons
                .into_iter()
                .map(|l| (l.number, (l.en.title, l.ja.title)))
                .collect()
        })
        .unwrap_or_default();
    let shared = Arc::new(api::Shared {
        board: state::Board::default(),
        code: config.code,
        token: config.token,
        join_url: config.join_url,
        titles,
    });
    Router::new()
        .route("/api/board", get(api::board))
        .route("/api/board/reports", post(api::report))
        .merge(page::router())
        .layer(middleware::from_fn_with_state(shared.clone(), api::guard))
        .layer(DefaultBodyLimit::max(8 * 1024))
        .with_state(shared)
}

/// Refuses to serve the board beyond loopback without a token, and a token too short or
/// holding characters a header or a URL would mangle.
pub fn check_exposure(address: SocketAddr, token: Option<&str>) -> Result<(), Said> {
    let Err(exposure) = tracedojo_web::guard::check_exposure(address, token) else {
        return Ok(());
    };
    match (exposure, token) {
        (Exposure::WeakToken, Some(token)) if token.chars().count() < MIN_TOKEN_CHARS => {
            Err(Said::new(
                format!(
                    "the board's token must be at least {MIN_TOKEN_CHARS} characters; make one with e.g. `openssl rand -hex 16`"
                ),
                format!(
                    "ボードのトークンは {MIN_TOKEN_CHARS} 文字以上にしてください（例: `openssl rand -hex 16` で作れます）"
                ),
            ))
        }
        (Exposure::WeakToken, _) => Err(Said::new(
            "the board's token may hold only visible ASCII characters (no spaces); make one with e.g. `openssl rand -hex 16`",
            "ボードのトークンに使えるのは、空白を除く ASCII の英数字と記号だけです（例: `openssl rand -hex 16` で作れます）",
        )),
        (Exposure::OpenToTheNetwork, _) => Err(Said::new(
            format!(
                "the board would listen on {address}, which other machines reach; give it a token (--board-token or TRACEDOJO_BOARD_TOKEN, at least {MIN_TOKEN_CHARS} characters) or listen on 127.0.0.1"
            ),
            format!(
                "このままではボードが {address} で待ち受け、他のマシンからアクセスできてしまいます。トークンを指定するか（--board-token または TRACEDOJO_BOARD_TOKEN、{MIN_TOKEN_CHARS} 文字以上）、127.0.0.1 で待ち受けてください"
            ),
        )),
    }
}

/// A join code the facilitator chose: 4 to 32 letters, digits or `-`, case ignored.
pub fn parse_code(text: &str) -> Result<String, Said> {
    let code = normalise_code(text);
    let length = code.chars().count();
    if (4..=32).contains(&length) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(code)
    } else {
        Err(Said::new(
            "--code takes 4 to 32 letters, digits or '-' (leave it out and the board makes one up)",
            "--code には英数字か '-' を 4〜32 文字で指定してください（省略するとボードが作ります）",
        ))
    }
}

/// A join code of six characters no one mistakes when reading it off a screen.
pub fn new_code() -> String {
    (0..CODE_CHARS)
        .map(|_| char::from(CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// Participants type codes; case and spaces around them do not matter.
fn normalise_code(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

/// Binds the board's address, saying plainly why not.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, Said> {
    TcpListener::bind(address).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::AddrInUse {
            Said::new(
                format!(
                    "port {} is already in use (another board?); choose another with --listen",
                    address.port()
                ),
                format!(
                    "ポート {} はすでに使われています（別のボードが動いていませんか？）。--listen で別のポートを指定してください",
                    address.port()
                ),
            )
        } else {
            Said::new(
                format!("cannot listen on {address}: {err}"),
                format!("{address} で待ち受けできません: {err}"),
            )
        }
    })
}

/// Serves the board on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: BoardConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The page's address for the facilitator's own browser, the token in the fragment.
pub use tracedojo_web::page_url;

/// The address participants give to `--board`: on an unspecified address (`0.0.0.0`), this
/// machine's address on the network its default route leaves by, else `None` (the
/// facilitator then tells it).
pub fn join_url(bound: SocketAddr) -> Option<String> {
    let ip = if bound.ip().is_unspecified() {
        outward_address(bound.ip())?
    } else {
        bound.ip()
    };
    Some(format!("http://{}", SocketAddr::new(ip, bound.port())))
}

/// The local address a datagram to a documentation address would leave from. `connect` on a
/// UDP socket only picks a route: nothing is sent.
fn outward_address(family: IpAddr) -> Option<IpAddr> {
    let (local, remote): (SocketAddr, SocketAddr) = match family {
        IpAddr::V4(_) => (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        ),
        IpAddr::V6(_) => (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        ),
    };
    let socket = std::net::UdpSocket::bind(local).ok()?;
    socket.connect(remote).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

#[cfg(test)]
mod tests;
