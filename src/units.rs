//! Units written on the command line: durations (`30s`, `20ms`, `5m`, `1h`) and rates (`800/1s`, `3000/150s`).
//! Shared by the client (`--max-rate`, `--converge-timeout`) and the emulator (`--throttle`, `--latency`, `--lag`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Parses a duration such as `30s`, `20ms`, `1.5s`, `5m`, `2h`, or `1m30s` (jiff's friendly format), or a bare number
/// of seconds (`0`, `2.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(Duration::from_secs_f64(secs));
    }
    let d: jiff::SignedDuration = t
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. `30s`, `250ms`, `5m` or `1h`"))?;
    Duration::try_from(d).map_err(|_| format!("`{s}` is negative; durations must be zero or more"))
}

/// A rate: `count` events per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events per window (at least 1).
    pub count: u32,
    /// The window (more than zero).
    pub per: Duration,
}

impl Rate {
    /// Events per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let err =
            || format!("`{s}` is not a rate; write COUNT/DURATION, e.g. `800/1s` or `3000/150s`");
        let (count, per) = s.trim().split_once('/').ok_or_else(err)?;
        let count: u32 = count.trim().parse().map_err(|_| err())?;
        let per = parse_duration(per).map_err(|_| err())?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: a rate needs a count above 0 and a window longer than 0"
            ));
        }
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            jiff::SignedDuration::try_from(self.per).map_err(|_| fmt::Error)?
        )
    }
}

/// A probability written as a fraction in `[0, 1]` (`--fail-prob 0.05`).
pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "`{s}` is not a probability; write a fraction from 0 to 1, e.g. `0.05`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("20ms").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn rates() {
        let r: Rate = "800/1s".parse().unwrap();
        assert_eq!((r.count, r.per), (800, Duration::from_secs(1)));
        let w: Rate = "3000/150s".parse().unwrap();
        assert!((w.per_second() - 20.0).abs() < 1e-9);
        assert!("0/1s".parse::<Rate>().is_err());
        assert!("800".parse::<Rate>().is_err());
        assert!("800/0s".parse::<Rate>().is_err());
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("0.05").unwrap(), 0.05);
        assert!(parse_probability("1.5").is_err());
    }
}
