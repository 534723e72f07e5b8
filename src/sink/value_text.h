// Text forms of single Arrow values, shared by the sinks that turn typed columns into text: the
// CSV encoder (a nested value as one JSON cell, binary as base64, decimals exactly) and the
// console table. Every function appends to a caller's buffer, so a caller that keeps one buffer
// per column formats millions of values without an allocation per value.
#pragma once

#include <arrow/type.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kpipe {

// A timestamp value of `unit` in microseconds (nanoseconds floor towards the past).
int64_t to_micros(int64_t value, arrow::TimeUnit::type unit);

// Longest text format_decimal128 writes: sign, 39 digits, point, and up to 38 zeros that a
// negative scale adds, with spare.
inline constexpr int kMaxDecimalText = 88;

// The exact text of a Decimal128 (Arrow's layout: 16 bytes, little-endian two's complement,
// unscaled) with `scale` (-38..38) fraction digits: "12.30", "-0.05", "0.00", "123"; a negative
// scale (Arrow allows it, Spark and our schema do not) appends zeros. Plain notation always,
// never "1E-8". Returns the end of the text (no terminating NUL).
char* format_decimal128(const uint8_t* value, int32_t scale, char* out);

// Standard base64 (RFC 4648, '+' '/', '=' padding), as Spark's to_json and base64() write
// BINARY and as from_json reads it back.
void append_base64(std::string_view bytes, std::string& out);

// The JSON text of value `row` of `array`, recursively, for every type the schema produces:
//   null → null; booleans true/false; integers as digits; floating point shortest round-trip
//   ("0.1", "1e+300"), NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity" (JSON
//   has no such numbers; Spark's from_json reads these strings back); decimals as exact numbers
//   (12.30, not 12.3); strings escaped per RFC 8259; binary as a base64 string; dates
//   "2025-11-06"; timestamps as the CSV writes them, "2025-11-06T12:30:00.123Z" (UTC) or
//   "2025-11-06T12:30:00.123" (TIMESTAMP_NTZ); struct {"a":1,"b":null} with every field in
//   order, nulls kept; list [1,2]; map {"k":"v"} (keys as JSON strings).
// A type outside that set is written as its Arrow text form, quoted.
void append_json_value(const arrow::Array& array, int64_t row, std::string& out);

}  // namespace kpipe
