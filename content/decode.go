package content

import (
	"encoding/json"
	"errors"
)

// DecodeOutgoing decodes a POST /v1/messages body. Malformed JSON, or a
// body that is not a JSON object, is 1025 "Unable to decode the request:
// ..." as the webapp answered; a value of the wrong JSON type is 1009 for
// its parameter, which is what the webapp's checks said after PHP had
// decoded it typelessly. Unknown fields are ignored, as On-Prem ignored
// them. The result is not validated: call Validate.
//
// Field names match case-insensitively (encoding/json's rule), where PHP
// matched exactly; a client relying on that difference gets a lenient
// answer, not a wrong one.
func DecodeOutgoing(b []byte) (*Outgoing, error) {
	var o Outgoing
	err := json.Unmarshal(b, &o)
	if err == nil {
		return &o, nil
	}
	var (
		te *json.UnmarshalTypeError
		ce *Error
	)
	switch {
	case errors.As(err, &ce):
		// Coordinate and FlexInt report their own parameter errors.
		return nil, ce
	case errors.As(err, &te) && te.Field != "":
		return nil, errInvalid(te.Field, te.Value)
	}
	return nil, NewError(CodeInvalidRequest, "Unable to decode the request: "+err.Error())
}
