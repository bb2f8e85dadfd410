//! Byte sizes written the way operators write them: `"500 MiB"`, `"2GB"`, or a number;
//! and free-space thresholds, which may also be a percentage of the filesystem.

use std::fmt;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("invalid size {text:?}"))?;
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            "t" | "tb" => 1_000_000_000_000,
            "tib" => 1 << 40,
            _ => {
                return Err(format!(
                    "invalid size unit in {text:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
                ));
            }
        };
        number
            .checked_mul(factor)
            .map(Self)
            .ok_or_else(|| format!("size {text:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

/// Free space to keep under the data dir (`storage.min_free`): a size, a percentage of
/// the filesystem (`"5%"`), or by default 1 GiB or 5 %, whichever is smaller, so a small
/// disk is not declared full while it still has most of its room.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum MinFree {
    #[default]
    Default,
    Bytes(u64),
    Percent(f64),
}

impl MinFree {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(number) = text.strip_suffix('%') else {
            return ByteSize::parse(text).map(|size| Self::Bytes(size.0));
        };
        match number.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(Self::Percent(p)),
            _ => Err(format!(
                "invalid percentage {text:?} (use a number from 0 to 100 followed by %)"
            )),
        }
    }

    /// The threshold in bytes on a filesystem of `total` bytes.
    pub fn bytes(&self, total: u64) -> u64 {
        let percent = |p: f64| (total as f64 * p / 100.0) as u64;
        match *self {
            Self::Default => percent(5.0).min(1 << 30),
            Self::Bytes(n) => n,
            Self::Percent(p) => percent(p),
        }
    }
}

impl<'de> Deserialize<'de> for MinFree {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self::Bytes(n)),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl fmt::Display for MinFree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => write!(f, "1 GiB or 5 %, whichever is smaller"),
            Self::Bytes(n) => write!(f, "{n} bytes"),
            Self::Percent(p) => write!(f, "{p} %"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ByteSize, MinFree};

    #[test]
    fn min_free_is_a_size_or_a_percentage() {
        assert_eq!(MinFree::parse("2 GiB").unwrap(), MinFree::Bytes(2 << 30));
        assert_eq!(MinFree::parse("10%").unwrap(), MinFree::Percent(10.0));
        assert_eq!(MinFree::parse(" 2.5 % ").unwrap(), MinFree::Percent(2.5));
        assert!(MinFree::parse("101%").is_err());
        assert!(MinFree::parse("-1%").is_err());
        assert!(MinFree::parse("lots").is_err());
        assert_eq!(MinFree::Percent(10.0).bytes(1000), 100);
        assert_eq!(MinFree::Bytes(7).bytes(1000), 7);
        // 5 % of a small disk, 1 GiB of a large one.
        assert_eq!(MinFree::Default.bytes(48 << 20), (48u64 << 20) / 20);
        assert_eq!(MinFree::Default.bytes(1 << 40), 1 << 30);
    }

    #[test]
    fn parses_units() {
        assert_eq!(ByteSize::parse("2 GiB").unwrap().0, 2 << 30);
        assert_eq!(ByteSize::parse("500MB").unwrap().0, 500_000_000);
        assert_eq!(ByteSize::parse("17").unwrap().0, 17);
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("5 parsecs").is_err());
        assert!(ByteSize::parse("99999999999 TiB").is_err());
    }
}
