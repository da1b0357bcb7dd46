//! One load generator among several (`--instance I/N`): which share of the population it
//! plays, and the seed and phase that keep its sends apart from the other instances'.
//!
//! Every instance builds the same seeded population; instance I plays the users whose index
//! n has n % N == I - 1. The shares are disjoint and together they are the whole population,
//! so N generators on N hosts play each user exactly once, as one generator would, and a
//! user's journeys never race each other from two hosts.

use std::fmt;
use std::str::FromStr;

/// What `--instance` and a profile file's `instance` accept, said the same way everywhere.
pub const INSTANCE_FORM: &str = "I/N, e.g. 2/4, with 1 <= I <= N";

/// Instance `index` (from 1) of `count` load generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance {
    index: u32,
    count: u32,
}

/// Why an instance cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceError {
    #[error("\"{0}\" is not an instance: give {INSTANCE_FORM}")]
    Form(String),
    #[error(
        "instance {instance} needs at least {count} users (one per instance), but the \
         population has {users}; give --users {count} or more, or run fewer instances",
        count = .instance.count()
    )]
    TooFewUsers { instance: Instance, users: usize },
}

impl Instance {
    /// The only instance: the whole population, the run's own seed, what a plain run does.
    pub const WHOLE: Instance = Instance { index: 1, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Instance, InstanceError> {
        if index == 0 || index > count {
            return Err(InstanceError::Form(format!("{index}/{count}")));
        }
        Ok(Instance { index, count })
    }

    /// From 1 to [`Instance::count`].
    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Every instance of `count` has at least one user of a population of `users`.
    pub fn check_population(&self, users: usize) -> Result<(), InstanceError> {
        if (self.count as usize) > users {
            return Err(InstanceError::TooFewUsers {
                instance: *self,
                users,
            });
        }
        Ok(())
    }

    /// Whether the user at `user` (its index in the population) is this instance's.
    pub fn plays(&self, user: usize) -> bool {
        user % self.count as usize == (self.index - 1) as usize
    }

    /// How many users of a population of `users` this instance plays.
    pub fn share_len(&self, users: usize) -> usize {
        let first = (self.index - 1) as usize;
        if users <= first {
            0
        } else {
            (users - first - 1) / self.count as usize + 1
        }
    }

    /// The population index of this instance's `k`-th user (`k < share_len`).
    pub fn user(&self, k: usize) -> usize {
        (self.index - 1) as usize + k * self.count as usize
    }

    /// The seed of this instance's arrivals and journey choices, derived from the run's seed.
    ///
    /// Instances drawing from one seed would start the same journeys at the same offsets, in
    /// lock-step; a single instance keeps the run's own seed, so a plain run is unchanged.
    pub fn seed(&self, seed: u64) -> u64 {
        if self.count == 1 {
            return seed;
        }
        splitmix64(seed ^ splitmix64(u64::from(self.index)))
    }

    /// Where in the first gap this instance's evenly spaced arrivals begin, from 0 to 1: the
    /// instances' arrivals interleave instead of landing together (0.5 for a single one).
    pub fn phase(&self) -> f64 {
        (f64::from(self.index) - 0.5) / f64::from(self.count)
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser): nearby inputs give unrelated seeds.
fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Instance {
    type Err = InstanceError;

    fn from_str(text: &str) -> Result<Instance, InstanceError> {
        let bad = || InstanceError::Form(text.to_string());
        // Digits only: `u32::from_str` would also take "+2".
        let number = |part: &str| -> Result<u32, InstanceError> {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count) = (number(index)?, number(count)?);
        Instance::new(index, count).map_err(|_| bad())
    }
}

impl serde::Serialize for Instance {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Instance {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Instance, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_shares_are_disjoint_not_empty_and_cover_the_population() {
        for users in [1, 2, 3, 7, 10, 1000, 1001] {
            for count in 1..=users.min(12) as u32 {
                let mut seen = BTreeSet::new();
                for index in 1..=count {
                    let instance = Instance::new(index, count).unwrap();
                    instance.check_population(users).unwrap();
                    let share: Vec<usize> = (0..instance.share_len(users))
                        .map(|k| instance.user(k))
                        .collect();
                    assert!(
                        !share.is_empty(),
                        "{instance} of {users} users plays nobody"
                    );
                    for user in &share {
                        assert!(*user < users, "{instance}: user {user} of {users}");
                        assert!(instance.plays(*user));
                        assert!(seen.insert(*user), "{instance}: user {user} played twice");
                    }
                    let by_rule: Vec<usize> = (0..users).filter(|u| instance.plays(*u)).collect();
                    assert_eq!(share, by_rule, "{instance} of {users} users");
                }
                assert_eq!(seen.len(), users, "{count} instances of {users} users");
            }
        }
        assert_eq!(Instance::WHOLE.share_len(5), 5);
        assert_eq!(Instance::WHOLE.user(3), 3);
    }

    #[test]
    fn more_instances_than_users_is_refused() {
        let instance: Instance = "2/4".parse().unwrap();
        let err = instance.check_population(3).unwrap_err().to_string();
        assert_eq!(
            err,
            "instance 2/4 needs at least 4 users (one per instance), but the population has 3; \
             give --users 4 or more, or run fewer instances"
        );
        assert!(instance.check_population(4).is_ok());
    }

    #[test]
    fn only_i_slash_n_with_i_from_1_to_n_parses() {
        for (text, index, count) in [("2/4", 2, 4), ("1/1", 1, 1), (" 3 / 3 ", 3, 3)] {
            let instance: Instance = text.parse().unwrap();
            assert_eq!(
                (instance.index(), instance.count()),
                (index, count),
                "{text}"
            );
        }
        assert_eq!("2/4".parse::<Instance>().unwrap().to_string(), "2/4");
        for bad in [
            "",
            "2",
            "2/",
            "/4",
            "/",
            "0/4",
            "5/4",
            "1/0",
            "0/0",
            "-1/4",
            "+2/4",
            "2/+4",
            "1.5/4",
            "2/4/8",
            "a/b",
            "two/four",
            "2\\4",
            "2:4",
            "4294967296/4294967296",
            "99999999999999999999/1",
        ] {
            let err = bad.parse::<Instance>().unwrap_err().to_string();
            assert_eq!(
                err,
                format!("\"{bad}\" is not an instance: give I/N, e.g. 2/4, with 1 <= I <= N"),
            );
        }
    }

    #[test]
    fn instances_get_seeds_and_phases_of_their_own() {
        let seeds: BTreeSet<u64> = (1..=8)
            .map(|i| Instance::new(i, 8).unwrap().seed(7))
            .collect();
        assert_eq!(seeds.len(), 8, "{seeds:?}");
        assert!(!seeds.contains(&7));
        assert_eq!(Instance::WHOLE.seed(7), 7, "a plain run keeps its seed");
        assert_eq!(Instance::WHOLE.phase(), 0.5);
        let phases: Vec<f64> = (1..=4)
            .map(|i| Instance::new(i, 4).unwrap().phase())
            .collect();
        assert_eq!(phases, [0.125, 0.375, 0.625, 0.875]);
    }
}
