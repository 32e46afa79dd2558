// Package telemetry sets up structured logging (JSON slog).
package telemetry

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// NewLogger returns a JSON logger at LOG_LEVEL (debug, info, warn, error).
func NewLogger(w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
