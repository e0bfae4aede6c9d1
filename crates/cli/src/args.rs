//! Parsers of the options that take numbers: each refuses what makes no sense (a batch of 0,
//! a negative rate) with a message, before anything runs.

/// A count of at least one (examples, epochs, a batch, threads, repetitions).
pub fn count(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

/// Slots of the bootstrapping preset (N = 2^16): a power of two from 2 to 32768, or `full`.
pub fn slots(s: &str) -> Result<usize, String> {
    const FULL: usize = 1 << 15;
    if s == "full" {
        return Ok(FULL);
    }
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if !n.is_power_of_two() || !(2..=FULL).contains(&n) {
        return Err(format!("must be a power of two from 2 to {FULL}, or full"));
    }
    Ok(n)
}

/// A count that may be zero (fine-tuning epochs, where 0 means calibration only).
pub fn count_or_zero(s: &str) -> Result<usize, String> {
    s.parse().map_err(|e| format!("{e}"))
}

/// Bits of a quantized network's weights and activations.
pub fn bits(s: &str) -> Result<u32, String> {
    let b: u32 = s.parse().map_err(|e| format!("{e}"))?;
    if !(2..=8).contains(&b) {
        return Err("must be between 2 and 8".into());
    }
    Ok(b)
}

/// A learning rate: finite and positive.
pub fn rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(r.is_finite() && r > 0.0) {
        return Err("must be a positive number".into());
    }
    Ok(r)
}

/// [`rate`] as an `f32`.
pub fn rate32(s: &str) -> Result<f32, String> {
    let r = rate(s)? as f32;
    if !(r.is_finite() && r > 0.0) {
        return Err("out of the range of a 32-bit float".into());
    }
    Ok(r)
}

/// A decay factor strictly between 0 and 1.
pub fn decay(s: &str) -> Result<f32, String> {
    let r: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if !(r > 0.0 && r < 1.0) {
        return Err("must be strictly between 0 and 1".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").unwrap_err().contains("at least 1"));
        assert!(count("-1").is_err() && count("x").is_err() && count("").is_err());
        assert_eq!(count_or_zero("0"), Ok(0));
        assert!(bits("1").is_err() && bits("9").is_err() && bits("64").is_err());
        assert_eq!(bits("4"), Ok(4));
        for bad in ["0", "-0.1", "nan", "inf", "1e400"] {
            assert!(rate(bad).is_err() && rate32(bad).is_err(), "{bad}");
        }
        assert!(rate32("1e39").is_err());
        assert_eq!(rate("0.1"), Ok(0.1));
        assert!(decay("1").is_err() && decay("0").is_err() && decay("nan").is_err());
    }
}
