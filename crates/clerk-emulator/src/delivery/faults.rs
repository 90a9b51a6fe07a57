//! Fault injection for first delivery attempts, configured with the
//! `KEEL_EMULATOR_FAULTS` syntax: `drop=0.2,duplicate=0.1,reorder=0.1,seed=7`.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Probabilities (0 to 1) that a message's first attempt is dropped,
/// duplicated or reordered, each rolled independently per message. `seed`
/// makes the rolls reproducible. The default injects nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// The first attempt is not sent; it counts as failed, so it is retried.
    pub drop: f64,
    /// The first attempt is sent twice (same `svix-id`).
    pub duplicate: f64,
    /// The message is held back and sent after the next one (or, if no next
    /// one comes, once the first retry delay has passed).
    pub reorder: f64,
    pub seed: Option<u64>,
}

/// A fault that was applied to a message, as the delivery log reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    Drop,
    Duplicate,
    Reorder,
}

/// Why a faults value was refused; messages show the expected syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultsError {
    #[error("`{0}` is not name=value (expected e.g. drop=0.2,duplicate=0.1,reorder=0.1,seed=7)")]
    NotAPair(String),
    #[error("unknown fault `{0}` (known: drop, duplicate, reorder, seed)")]
    UnknownName(String),
    #[error("`{0}` is given more than once")]
    Repeated(String),
    #[error("{name}={value} is not a probability from 0 to 1 (e.g. {name}=0.2)")]
    InvalidProbability { name: String, value: String },
    #[error("seed={0} is not a whole number from 0 to 18446744073709551615")]
    InvalidSeed(String),
}

impl Faults {
    /// Parses `name=value` pairs separated by commas (spaces allowed). An
    /// empty value means no faults.
    pub fn parse(value: &str) -> Result<Self, FaultsError> {
        let mut faults = Faults::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, raw) = part
                .split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .ok_or_else(|| FaultsError::NotAPair(part.to_owned()))?;
            if seen.contains(&name) {
                return Err(FaultsError::Repeated(name.to_owned()));
            }
            seen.push(name);
            let slot = match name {
                "drop" => &mut faults.drop,
                "duplicate" => &mut faults.duplicate,
                "reorder" => &mut faults.reorder,
                "seed" => {
                    let seed = raw
                        .parse()
                        .map_err(|_| FaultsError::InvalidSeed(raw.to_owned()))?;
                    faults.seed = Some(seed);
                    continue;
                }
                _ => return Err(FaultsError::UnknownName(name.to_owned())),
            };
            *slot = raw
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultsError::InvalidProbability {
                    name: name.to_owned(),
                    value: raw.to_owned(),
                })?;
        }
        Ok(faults)
    }

    /// Whether any fault can happen.
    pub fn is_active(&self) -> bool {
        self.drop > 0.0 || self.duplicate > 0.0 || self.reorder > 0.0
    }

    pub(crate) fn rng(&self) -> StdRng {
        match self.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_rng(&mut rand::rng()),
        }
    }

    /// Rolls all three faults for one message, always in the same order so
    /// a seed reproduces the same sequence.
    pub(crate) fn roll(&self, rng: &mut StdRng) -> Vec<Fault> {
        [
            (Fault::Drop, self.drop),
            (Fault::Duplicate, self.duplicate),
            (Fault::Reorder, self.reorder),
        ]
        .into_iter()
        .filter(|&(_, p)| rng.random::<f64>() < p)
        .map(|(fault, _)| fault)
        .collect()
    }
}

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The same syntax [`Faults::parse`] reads.
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drop={},duplicate={},reorder={}",
            self.drop, self.duplicate, self.reorder
        )?;
        if let Some(seed) = self.seed {
            write!(f, ",seed={seed}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_syntax() {
        let faults = Faults::parse("drop=0.2,duplicate=0.1, reorder = 0.1 ,seed=7").unwrap();
        assert_eq!(
            faults,
            Faults {
                drop: 0.2,
                duplicate: 0.1,
                reorder: 0.1,
                seed: Some(7)
            }
        );
        assert!(faults.is_active());
        assert_eq!(Faults::parse(&faults.to_string()).unwrap(), faults);
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        assert!(!Faults::parse(" , ").unwrap().is_active());
        assert_eq!("drop=1".parse::<Faults>().unwrap().drop, 1.0);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            ("drop", FaultsError::NotAPair("drop".into())),
            ("dorp=0.1", FaultsError::UnknownName("dorp".into())),
            ("drop=0.1,drop=0.2", FaultsError::Repeated("drop".into())),
            (
                "reorder=1.5",
                FaultsError::InvalidProbability {
                    name: "reorder".into(),
                    value: "1.5".into(),
                },
            ),
            (
                "duplicate=NaN",
                FaultsError::InvalidProbability {
                    name: "duplicate".into(),
                    value: "NaN".into(),
                },
            ),
            ("seed=-1", FaultsError::InvalidSeed("-1".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(Faults::parse(input).unwrap_err(), expected, "{input}");
        }
        let message = Faults::parse("dorp=0.1").unwrap_err().to_string();
        assert!(
            message.contains("drop, duplicate, reorder, seed"),
            "{message}"
        );
    }

    #[test]
    fn a_seed_makes_rolls_reproducible() {
        let faults = Faults::parse("drop=0.5,duplicate=0.5,reorder=0.5,seed=42").unwrap();
        let rolls = |faults: &Faults| {
            let mut rng = faults.rng();
            (0..50).map(|_| faults.roll(&mut rng)).collect::<Vec<_>>()
        };
        let first = rolls(&faults);
        assert_eq!(first, rolls(&faults));
        assert!(first.iter().any(|r| r.contains(&Fault::Drop)));
        assert!(first.iter().any(Vec::is_empty));
        let none = Faults::default();
        let mut rng = none.rng();
        assert!((0..50).all(|_| none.roll(&mut rng).is_empty()));
    }
}
