package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxSeconds is the largest time value accepted, the INT_MAX limit that
// OpenSSH's convtime applies. It keeps every duration far from overflowing
// time.Duration.
const maxSeconds = math.MaxInt32

// parseNumber parses a decimal integer in [min, max].
func parseNumber(value string, min, max uint64) (uint64, error) {
	n, err := strconv.ParseUint(value, 10, 64)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("expected a number from %d to %d", min, max)
	}
	return n, nil
}

// parseOctal parses an octal integer such as 022 or 0022 in [0, max].
func parseOctal(value string, max uint64) (uint64, error) {
	n, err := strconv.ParseUint(value, 8, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("expected an octal number from 0 to %o", max)
	}
	return n, nil
}

// parseSeconds parses a time in seconds in [min, maxSeconds]. Besides a
// plain number it accepts OpenSSH's time format, a sequence of numbers each
// followed by s, m, h, d or w (for example 1m30s), because ssh options such
// as ConnectTimeout are written that way in ssh_config files.
func parseSeconds(value string, min uint64) (time.Duration, error) {
	total, ok := sshTimeSeconds(value)
	if !ok || total < min || total > maxSeconds {
		return 0, fmt.Errorf("expected a time in seconds from %d to %d", min, uint64(maxSeconds))
	}
	return time.Duration(total) * time.Second, nil
}

// sshTimeUnits maps OpenSSH's time unit letters to seconds.
var sshTimeUnits = map[byte]uint64{'s': 1, 'S': 1, 'm': 60, 'M': 60, 'h': 3600, 'H': 3600,
	'd': 86400, 'D': 86400, 'w': 604800, 'W': 604800}

// sshTimeSeconds converts OpenSSH's time format to seconds. It reports
// false for malformed input and for totals above maxSeconds.
func sshTimeSeconds(value string) (uint64, bool) {
	if value == "" {
		return 0, false
	}
	var total uint64
	for value != "" {
		digits := 0
		for digits < len(value) && value[digits] >= '0' && value[digits] <= '9' {
			digits++
		}
		if digits == 0 || digits > 10 {
			return 0, false
		}
		n, _ := strconv.ParseUint(value[:digits], 10, 64)
		value = value[digits:]

		multiplier := uint64(1)
		if value != "" {
			m, ok := sshTimeUnits[value[0]]
			if !ok {
				return 0, false
			}
			multiplier = m
			value = value[1:]
		}
		total += n * multiplier
		if total > maxSeconds {
			return 0, false
		}
	}
	return total, true
}

// parseChoice returns the canonical spelling for value, compared without
// regard to case, from choices, which maps accepted spellings to canonical
// ones. allowed lists the spellings shown in the error.
func parseChoice(value string, choices map[string]string, allowed string) (string, error) {
	canonical, ok := choices[strings.ToLower(value)]
	if !ok {
		return "", fmt.Errorf("expected %s", allowed)
	}
	return canonical, nil
}

// parsePath expands a leading ~/ to the home directory, as ssh does for
// IdentityFile, and makes the path absolute, because the detached daemon
// changes its working directory to /. A path that starts with an ssh
// percent token such as %d is left for the remote package to expand.
func parsePath(value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("expected a file path")
	}
	if strings.HasPrefix(value, "%") {
		return value, nil
	}
	if value == "~" || strings.HasPrefix(value, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %w", err)
		}
		value = filepath.Join(home, value[1:])
	}
	return filepath.Abs(value)
}
