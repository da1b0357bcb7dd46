//! The card gateway: how long it takes and which cards it declines, and [`authorise`], the
//! call the payment handler waits on.

use std::time::Duration;

/// Card numbers that are always declined, as card networks' test cards are.
pub const DECLINED_CARDS: [(&str, &str); 2] = [
    ("4000000000000002", "card_declined"),
    ("4000000000009995", "insufficient_funds"),
];

/// Latency of the simulated gateway: log-normal around a median, capped.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Typical (median) time for an authorisation.
    pub median_latency: Duration,
    /// Spread of the log-normal distribution; 0 gives a fixed latency.
    pub latency_sigma: f64,
    /// Upper bound, so a tail sample cannot stall a demo.
    pub max_latency: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            median_latency: Duration::from_millis(25),
            latency_sigma: 0.5,
            max_latency: Duration::from_secs(2),
        }
    }
}

impl GatewayConfig {
    /// Draws one authorisation time.
    pub fn sample_latency(&self) -> Duration {
        let median = self.median_latency.as_secs_f64();
        let seconds = median * (self.latency_sigma * standard_normal()).exp();
        Duration::from_secs_f64(seconds.min(self.max_latency.as_secs_f64()).max(0.0))
    }
}

/// A standard normal sample (Box–Muller), so no distribution crate is needed.
fn standard_normal() -> f64 {
    let u1: f64 = rand::random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rand::random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Asks the gateway to authorise a payment with `card_number`: waits as long as the gateway
/// takes, then answers `Err` with the reason when it declines the card.
///
/// This wait is most of what `POST /payments` spends, yet the trace shows only the request's
/// SERVER span around it, so our own work and the gateway's cannot be told apart. This is where
/// a span of your own belongs: see workshop lesson 10 ("Instrument it yourself").
pub async fn authorise(config: &GatewayConfig, card_number: &str) -> Result<(), &'static str> {
    tokio::time::sleep(config.sample_latency()).await;
    match decline_reason(card_number) {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// Why a card is declined, if it is.
pub fn decline_reason(card_number: &str) -> Option<&'static str> {
    let digits: String = card_number.chars().filter(char::is_ascii_digit).collect();
    DECLINED_CARDS
        .iter()
        .find(|(card, _)| *card == digits)
        .map(|(_, reason)| *reason)
}

/// The Luhn check every card number passes; a typo fails it.
pub fn luhn_valid(card_number: &str) -> bool {
    let digits: Vec<u32> = card_number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_digit(10))
        .collect::<Option<Vec<u32>>>()
        .unwrap_or_default();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_pass_luhn_and_declines_are_known() {
        assert!(luhn_valid("4242 4242 4242 4242"));
        assert!(luhn_valid("4000000000000002"));
        assert!(!luhn_valid("4242424242424241"));
        assert_eq!(decline_reason("4000 0000 0000 0002"), Some("card_declined"));
        assert_eq!(decline_reason("4242424242424242"), None);
    }

    #[tokio::test]
    async fn authorise_waits_for_the_gateway_then_declines_only_the_declined_cards() {
        let config = GatewayConfig {
            median_latency: Duration::from_millis(20),
            latency_sigma: 0.0,
            max_latency: Duration::from_secs(1),
        };
        let started = std::time::Instant::now();
        assert_eq!(authorise(&config, "4242424242424242").await, Ok(()));
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            authorise(&config, "4000 0000 0000 9995").await,
            Err("insufficient_funds")
        );
    }

    #[test]
    fn latency_stays_within_the_cap() {
        let config = GatewayConfig {
            median_latency: Duration::from_millis(10),
            latency_sigma: 3.0,
            max_latency: Duration::from_millis(50),
        };
        for _ in 0..1000 {
            assert!(config.sample_latency() <= Duration::from_millis(50));
        }
    }
}
