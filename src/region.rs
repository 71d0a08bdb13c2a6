//! The API's regions ([`Region`]) and their base URLs.

use std::fmt;
use std::str::FromStr;

/// Where the workspace's data lives; each region has its own API host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// `https://api.fpjs.io/v4` (the default).
    #[default]
    Global,
    /// `https://eu.api.fpjs.io/v4`.
    Eu,
    /// `https://ap.api.fpjs.io/v4` (Mumbai).
    Asia,
}

impl Region {
    /// Every region, in the order of [`Region::as_str`]'s names.
    pub const ALL: [Region; 3] = [Region::Global, Region::Eu, Region::Asia];

    /// The v4 base URL of the region.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Global => "https://api.fpjs.io/v4",
            Self::Eu => "https://eu.api.fpjs.io/v4",
            Self::Asia => "https://ap.api.fpjs.io/v4",
        }
    }

    /// The region's host URL, without an API version (the v3 base URL).
    pub fn host_url(self) -> &'static str {
        match self {
            Self::Global => "https://api.fpjs.io",
            Self::Eu => "https://eu.api.fpjs.io",
            Self::Asia => "https://ap.api.fpjs.io",
        }
    }

    /// The short name accepted by [`FromStr`]: `global`, `eu` or `ap`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Eu => "eu",
            Self::Asia => "ap",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = ParseRegionError;

    /// Accepts `global` or `us`, `eu`, and `ap` or `asia`, in any case.
    fn from_str(s: &str) -> Result<Self, ParseRegionError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "global" | "us" => Ok(Self::Global),
            "eu" => Ok(Self::Eu),
            "ap" | "asia" => Ok(Self::Asia),
            _ => Err(ParseRegionError {
                given: s.to_owned(),
            }),
        }
    }
}

/// A region name [`Region::from_str`] does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseRegionError {
    given: String,
}

impl ParseRegionError {
    /// The text that was given.
    pub fn given(&self) -> &str {
        &self.given
    }
}

impl fmt::Display for ParseRegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown region {:?}: use \"global\" (or \"us\"), \"eu\", or \"ap\" (or \"asia\")",
            self.given.trim()
        )
    }
}

impl std::error::Error for ParseRegionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_in_any_case() {
        assert_eq!("EU".parse(), Ok(Region::Eu));
        assert_eq!(" us ".parse(), Ok(Region::Global));
        assert_eq!("asia".parse(), Ok(Region::Asia));
        for region in Region::ALL {
            assert_eq!(region.as_str().parse(), Ok(region));
        }
        let e = "mars".parse::<Region>().unwrap_err();
        assert_eq!(e.given(), "mars");
        assert!(e.to_string().contains("unknown region \"mars\""), "{e}");
    }
}
