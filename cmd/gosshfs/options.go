package main

import (
	"fmt"
	"strings"
	"time"
)

// optionKind is the value type of an -o option: whether it takes a value
// and how the value is parsed and checked.
type optionKind int

const (
	kindFlag    optionKind = iota // no value, for example ro
	kindString                    // any non-empty value
	kindPath                      // file path, made absolute
	kindNumber                    // decimal integer in [min, max]
	kindOctal                     // octal integer in [0, max]
	kindSeconds                   // seconds in [min, maxSeconds], OpenSSH time format allowed
	kindChoice                    // one of choices, without regard to case
	kindAny                       // value optional and unchecked; for options gosshfs ignores
)

// optionValue is a parsed -o value. Only the field for the option's kind is set.
type optionValue struct {
	text     string // kindString, kindPath, kindChoice (canonical spelling), kindAny
	number   uint64 // kindNumber, kindOctal
	duration time.Duration
}

// option is one row of the -o option table, which drives parsing,
// validation and the help text.
type option struct {
	name string
	kind optionKind

	min, max uint64            // kindNumber, kindOctal (max only), kindSeconds (min only)
	choices  map[string]string // kindChoice: accepted spelling (lower case) to canonical value
	allowed  string            // kindChoice: the accepted values for messages and help

	group       string // help section; "" hides the option from the help
	placeholder string // value name in the help, with its unit
	defaultText string // default shown in the help
	help        string

	// ssh marks ssh_config keywords, which match without regard to case and
	// always take a value.
	ssh bool
	// prefix makes name match every option that starts with it.
	prefix bool

	// set applies the parsed value. A nil set means gosshfs ignores the
	// option, with a warning that gives ignoreReason, or without one when
	// silent is true because gosshfs already behaves as the option requests.
	set          func(c *mountConfig, v optionValue) error
	ignoreReason string
	silent       bool
}

// splitOptionList splits one -o argument at commas as libfuse does: a
// backslash escapes the next character, so "\," is a comma inside a value.
// Empty items are dropped.
func splitOptionList(s string) []string {
	var items []string
	var item strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			item.WriteByte(s[i])
		case s[i] == ',':
			if item.Len() > 0 {
				items = append(items, item.String())
			}
			item.Reset()
		default:
			item.WriteByte(s[i])
		}
	}
	if item.Len() > 0 {
		items = append(items, item.String())
	}
	return items
}

// joinOptionList is the inverse of splitOptionList for lists without empty
// items.
func joinOptionList(items []string) string {
	escaped := make([]string, len(items))
	for i, item := range items {
		item = strings.ReplaceAll(item, `\`, `\\`)
		escaped[i] = strings.ReplaceAll(item, ",", `\,`)
	}
	return strings.Join(escaped, ",")
}

// lookupOption finds the table row for name. ssh_config keywords are tried
// first when a value is given, so that User=alice is the ssh option while a
// bare user is the mount(8) option.
func lookupOption(name string, hasValue bool) *option {
	exact := optionsByName[name]
	ssh := sshOptionsByName[strings.ToLower(name)]
	switch {
	case hasValue && ssh != nil:
		return ssh
	case exact != nil:
		return exact
	case ssh != nil:
		return ssh
	}
	for _, o := range prefixOptions {
		if strings.HasPrefix(name, o.name) {
			return o
		}
	}
	return nil
}

// applyOptionList parses one -o argument into c.
func (c *mountConfig) applyOptionList(list string) error {
	defer func() { c.jumpOpen = false }()
	for _, item := range splitOptionList(list) {
		if c.jumpOpen && isJumpContinuation(item) {
			c.Remote.ProxyJump += "," + item
			continue
		}
		c.jumpOpen = false
		if err := c.applyOption(item); err != nil {
			return err
		}
	}
	return nil
}

// isJumpContinuation reports whether item, which follows a ProxyJump value
// in the same -o argument, is one more hop: the comma between hops also
// separates options, so "ProxyJump=a,b" arrives as two items. Only an item
// that would otherwise be an unknown option counts as a hop, so
// "ProxyJump=a,ro" still mounts read-only.
func isJumpContinuation(item string) bool {
	return !strings.Contains(item, "=") && lookupOption(item, false) == nil
}

// applyOption parses one name or name=value item into c.
func (c *mountConfig) applyOption(item string) error {
	name, value, hasValue := strings.Cut(item, "=")
	o := lookupOption(name, hasValue)
	if o == nil {
		return fmt.Errorf("unknown option %q in -o: see gosshfs -h", name)
	}

	v, err := o.parseValue(name, value, hasValue)
	if err != nil {
		return err
	}

	if o.set == nil {
		if !o.silent {
			c.warn(fmt.Sprintf("ignoring option %q: %s", name, o.ignoreReason))
		}
		return nil
	}
	return o.set(c, v)
}

// parseValue checks that a value is present exactly when the kind needs one
// and converts it.
func (o *option) parseValue(name, value string, hasValue bool) (optionValue, error) {
	if o.kind == kindAny {
		return optionValue{text: value}, nil
	}
	if o.kind == kindFlag {
		if hasValue {
			return optionValue{}, fmt.Errorf("option %q takes no value, but got %q", name, value)
		}
		return optionValue{}, nil
	}
	if !hasValue {
		return optionValue{}, fmt.Errorf("option %q needs a value: write -o %s=%s", name, name, o.placeholder)
	}

	v, err := o.convert(value)
	if err != nil {
		return optionValue{}, fmt.Errorf("invalid value %q for option %q: %v", value, name, err)
	}
	return v, nil
}

// convert parses a value of o's kind.
func (o *option) convert(value string) (optionValue, error) {
	var v optionValue
	var err error
	switch o.kind {
	case kindString:
		if value == "" {
			err = fmt.Errorf("expected a non-empty value")
		}
		v.text = value
	case kindPath:
		v.text, err = parsePath(value)
	case kindNumber:
		v.number, err = parseNumber(value, o.min, o.max)
	case kindOctal:
		v.number, err = parseOctal(value, o.max)
	case kindSeconds:
		v.duration, err = parseSeconds(value, o.min)
	case kindChoice:
		v.text, err = parseChoice(value, o.choices, o.allowed)
	default:
		panic(fmt.Sprintf("BUG: option %q has kind %d without a converter", o.name, o.kind))
	}
	return v, err
}

// warn records a warning once, however often the option repeats.
func (c *mountConfig) warn(message string) {
	for _, w := range c.Warnings {
		if w == message {
			return
		}
	}
	c.Warnings = append(c.Warnings, message)
}
