package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kind classifies a request's failure; it picks the HTTP status, the gRPC code and
// the errors metric's label.
type kind uint8

const (
	kindBadRequest  kind = iota // malformed request or tensors that do not fit the model
	kindNotFound                // no such model or version
	kindTooLarge                // request over the size limits
	kindOverloaded              // the model's queue is full
	kindUnavailable             // shutting down
	kindTimeout                 // the request's deadline passed
	kindCanceled                // the client went away
	kindInternal                // a model run failed
)

var kindNames = [...]string{"bad_request", "not_found", "too_large", "overloaded", "unavailable", "timeout", "canceled", "internal"}

func (k kind) String() string { return kindNames[k] }

func (k kind) httpStatus() int {
	return [...]int{http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge,
		http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		499, http.StatusInternalServerError}[k]
}

func (k kind) grpcCode() codes.Code {
	return [...]codes.Code{codes.InvalidArgument, codes.NotFound, codes.ResourceExhausted,
		codes.ResourceExhausted, codes.Unavailable, codes.DeadlineExceeded, codes.Canceled,
		codes.Internal}[k]
}

// apiError is an error with its kind; its message is what the client is told.
type apiError struct {
	kind kind
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(k kind, format string, args ...any) error {
	return &apiError{kind: k, msg: fmt.Sprintf(format, args...)}
}

// kindOf classifies any error a request ends with.
func kindOf(err error) kind {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.kind
	case errors.Is(err, context.DeadlineExceeded):
		return kindTimeout
	case errors.Is(err, context.Canceled):
		return kindCanceled
	}
	return kindInternal
}

func grpcError(err error) error {
	return status.Error(kindOf(err).grpcCode(), err.Error())
}
