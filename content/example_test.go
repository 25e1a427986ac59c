package content_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/waent/waent/content"
	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/proto"
)

// A POST /v1/messages body is decoded, validated as the webapp did, and
// turned into the chat message that is encrypted for the phone.
func Example_send() {
	body := []byte(`{"to":"16315551234","type":"interactive","interactive":{"type":"button",
		"body":{"text":"Is the delivery address right?"},
		"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},
		                     {"type":"reply","reply":{"id":"no","title":"No, the address is wrong"}}]}}}`)
	o, err := content.DecodeOutgoing(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	var apiErr *content.Error
	if err := o.Validate(); errors.As(err, &apiErr) {
		// What the REST layer puts in the response's errors[].
		out, _ := json.Marshal(apiErr)
		fmt.Println(string(out))
	}

	o.Interactive.Action.Buttons[1].Reply.Title = "No"
	if err := o.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	m, err := content.ToProto(o, nil) // no media: nothing to upload
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(m.GetButtonsMessage().GetButtons()), "buttons")
	fmt.Println(content.Render(m))
	// Output:
	// {"code":1009,"title":"Parameter value is not valid","details":"Parameter 'interactive.action.buttons[1].reply.title' is longer than 20 characters"}
	// 2 buttons
	// Is the delivery address right?
	// [Yes] [No]
}

// A media message needs the uploaded blob's reference from the media layer.
func ExampleToProto() {
	o := &content.Outgoing{To: "16315551234", Type: "image",
		Image:   &content.Media{ID: "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68", Caption: "Your receipt"},
		Context: &content.Context{MessageID: "gBGGFlA5FpafAgo6tHcNmNjXmuSf"}}
	if _, err := content.ToProto(o, nil); errors.Is(err, content.ErrNeedMedia) {
		fmt.Println("upload first")
	}
	m, err := content.ToProto(o, &content.MediaRef{
		URL: "https://mmg.whatsapp.net/d/f/x.enc", DirectPath: "/v/t62.7118-24/x.enc", MimeType: "image/jpeg",
		MediaKey: make([]byte, 32), FileSHA256: make([]byte, 32), FileEncSHA256: make([]byte, 32), FileLength: 48213,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	img := m.GetImageMessage()
	fmt.Println(img.GetMimetype(), img.GetFileLength(), img.GetContextInfo().GetStanzaID())
	fmt.Println(content.Render(m))
	// Output:
	// upload first
	// image/jpeg 48213 gBGGFlA5FpafAgo6tHcNmNjXmuSf
	// [image] Your receipt
}

// A received chat message becomes one entry of the webhook's "messages";
// the caller adds the sender, id and time it got from the stanza.
func ExampleFromProto() {
	m := &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
		ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("Yes, that's right"),
			ContextInfo: &waE2E.ContextInfo{
				StanzaID:    proto.String("gBGGFlA5FpafAgo6tHcNmNjXmuSf"),
				Participant: proto.String("16315558011@s.whatsapp.net"),
			},
		},
	}}}
	in, err := content.FromProto(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	in.From, in.ID, in.Timestamp = "16315551234", "ABGGFlA5FpafAgo6tHcNmNjXmuSf", "1518694235"
	out, _ := json.Marshal(in)
	fmt.Println(string(out))

	// Protocol messages are not webhook messages; a revoke is a status.
	revoke := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waE2E.MessageKey{ID: proto.String("ABGG1")}}}
	if _, err := content.FromProto(revoke); errors.Is(err, content.ErrNoContent) {
		id, _ := content.Revoked(revoke)
		fmt.Println("deleted:", id)
	}
	// Output:
	// {"from":"16315551234","id":"ABGGFlA5FpafAgo6tHcNmNjXmuSf","timestamp":"1518694235","type":"text","context":{"from":"16315558011","id":"gBGGFlA5FpafAgo6tHcNmNjXmuSf"},"text":{"body":"Yes, that's right"}}
	// deleted: ABGG1
}

func ExampleParseVCard() {
	c, err := content.ParseVCard("BEGIN:VCARD\nVERSION:3.0\nFN:Kerry Fisher\n" +
		"item1.TEL;waid=16315551234:+1 (631) 555-1234\nitem1.X-ABLabel:Mobile\nEND:VCARD\n")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.Marshal(c)
	fmt.Println(string(out))
	// Output:
	// {"name":{"formatted_name":"Kerry Fisher"},"phones":[{"phone":"+1 (631) 555-1234","type":"Mobile","wa_id":"16315551234"}]}
}
