// Package reminders is application code that uses waent: it sends
// appointment reminders and reads the answers from the webhook bodies.
// Its test (reminders_test.go) shows how to unit-test such code with
// memstore and waenttest: no files, no database server, nothing beyond
// loopback.
package reminders

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/waent/waent/content"
)

// Sender is the part of *waent.Client this code needs, so that callers
// can pass the client and nothing else.
type Sender interface {
	Send(ctx context.Context, msg *content.Outgoing) (string, error)
}

// Remind sends phone a reminder of an appointment at at and returns the
// message id.
func Remind(ctx context.Context, s Sender, phone string, at time.Time) (string, error) {
	body := fmt.Sprintf("Reminder: your appointment is on %s. Reply YES to confirm or NO to cancel.", at.Format("Mon 2 Jan at 15:04"))
	return s.Send(ctx, &content.Outgoing{To: phone, Type: "text", Text: &content.Text{Body: body}})
}

// Answer is a customer's reply to a reminder.
type Answer struct {
	Phone   string
	Confirm bool
}

// Answers reads the replies out of one On-Premises webhook body; other
// messages and statuses are ignored.
func Answers(body []byte) ([]Answer, error) {
	var cb struct {
		Messages []struct {
			From string `json:"from"`
			Type string `json:"type"`
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, err
	}
	var out []Answer
	for _, m := range cb.Messages {
		if m.Type != "text" {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(m.Text.Body)) {
		case "YES", "Y":
			out = append(out, Answer{Phone: m.From, Confirm: true})
		case "NO", "N":
			out = append(out, Answer{Phone: m.From, Confirm: false})
		}
	}
	return out, nil
}
