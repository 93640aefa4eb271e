package sip

import (
	"context"
	"errors"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// dialog is the SIP side of a Session: the dialog of a leg we dialed
// (clientDialog, we are its UAC) or of an inbound call we answered
// (serverDialog, we are its UAS). Everything else about a session (media,
// DTMF, announcements, bridging, recording, media timeout) is the same for
// both.
type dialog interface {
	// key is the session's key in the backend's table of sessions, which
	// sessionFor finds from an in-dialog request.
	key() string
	// invite is the INVITE that made the dialog.
	invite() *sipmsg.Request
	// bye sends a BYE in the dialog and waits for its answer, or ctx. A
	// dialog the far end already ended (481) is not an error.
	bye(ctx context.Context) error
	// readBye answers the far end's BYE with 200 and ends the dialog.
	readBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) error
	// context ends when sipgo ends the dialog on its own.
	context() context.Context
}

// clientDialog is the dialog of a leg Dial placed.
type clientDialog struct {
	b *Backend
	d *sipgo.DialogClientSession
}

func (c clientDialog) key() string             { return c.d.ID }
func (c clientDialog) invite() *sipmsg.Request { return c.d.InviteRequest }
func (c clientDialog) context() context.Context {
	return c.d.Context()
}
func (c clientDialog) bye(ctx context.Context) error { return c.b.sendBye(ctx, c.d) }
func (c clientDialog) readBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) error {
	return c.d.ReadBye(req, tx)
}

// serverDialog is the dialog of an inbound call Answer answered. Its
// key is prefixed so it can never be mistaken for a client dialog's (a
// call from Switchboard to itself has both, with the same Call-ID and
// tags).
type serverDialog struct {
	b  *Backend
	d  *sipgo.DialogServerSession
	tx sipmsg.ServerTransaction // the INVITE's
}

const serverKeyPrefix = "uas:"

func (s serverDialog) key() string              { return serverKeyPrefix + s.d.ID }
func (s serverDialog) invite() *sipmsg.Request  { return s.d.InviteRequest }
func (s serverDialog) context() context.Context { return s.d.Context() }

// bye sends the BYE itself rather than through sipgo's WriteBye, which
// first waits for the ACK of our 200: a BYE must also go out when the ACK
// never came (RFC 3261 13.3.1.4), or while Answer still waits for it.
func (s serverDialog) bye(ctx context.Context) error {
	inv, res := s.d.InviteRequest, s.d.InviteResponse
	if res == nil || !res.IsSuccess() {
		return errors.New("sip: BYE without an answered INVITE")
	}
	defer s.d.Close()
	defer s.tx.Terminate() // no more 2xx retransmissions
	target := inv.Recipient
	if c := inv.Contact(); c != nil {
		target = c.Address
	}
	bye := sipmsg.NewRequest(sipmsg.BYE, *target.Clone())
	bye.SipVersion = inv.SipVersion
	if h := res.To(); h != nil {
		from := h.AsFrom()
		bye.AppendHeader(&from)
	}
	bye.SetTransport(inv.Transport())
	s.b.pinUDP(bye)
	tx, err := s.d.TransactionRequest(ctx, bye)
	if err != nil {
		return err
	}
	defer tx.Terminate()
	for {
		select {
		case r := <-tx.Responses():
			switch {
			case r.IsProvisional():
				continue
			case r.IsSuccess(), r.StatusCode == 481:
				return nil
			}
			return sipgo.ErrDialogResponse{Res: r}
		case <-tx.Done():
			return tx.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// readBye answers the caller's BYE. sipgo refuses (without answering) a
// BYE whose CSeq is below the INVITE's; the session ends anyway, so it
// is answered all the same.
func (s serverDialog) readBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) error {
	err := s.d.ReadBye(req, tx)
	if errors.Is(err, sipgo.ErrDialogInvalidCseq) {
		s.d.Close()
		s.b.respond(req, tx, 200, "OK", nil)
		return nil
	}
	return err
}
