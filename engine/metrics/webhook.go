package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard/switchboard/engine/webhook"
)

var _ webhook.Observer = (*Webhooks)(nil)

// Webhooks is the webhook.Observer that counts deliveries, failed
// attempts and dead letters, by kind of target ("endpoint": a tenant's
// configured webhook; "status_callback": a call's statusCallback).
type Webhooks struct {
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	dead      *prometheus.CounterVec
}

// NewWebhooks registers the webhook metrics with reg.
func NewWebhooks(reg prometheus.Registerer) (*Webhooks, error) {
	w := &Webhooks{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_webhook_deliveries_total",
			Help: "Events delivered to a webhook target (answered 2xx), by kind of target.",
		}, []string{"target"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_webhook_failed_attempts_total",
			Help: "Webhook attempts that failed (another status, a timeout, a network error), by kind of target.",
		}, []string{"target"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_webhook_dead_letters_total",
			Help: "Events given up for a webhook target and kept as dead letters, by kind of target.",
		}, []string{"target"}),
	}
	for _, c := range []*prometheus.CounterVec{w.delivered, w.failed, w.dead} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
		for _, k := range []webhook.Kind{webhook.KindEndpoint, webhook.KindCallback} {
			c.WithLabelValues(string(k))
		}
	}
	return w, nil
}

// Delivered counts a delivery.
func (w *Webhooks) Delivered(k webhook.Kind) { w.delivered.WithLabelValues(string(k)).Inc() }

// AttemptFailed counts a failed attempt.
func (w *Webhooks) AttemptFailed(k webhook.Kind) { w.failed.WithLabelValues(string(k)).Inc() }

// DeadLettered counts a dead letter.
func (w *Webhooks) DeadLettered(k webhook.Kind) { w.dead.WithLabelValues(string(k)).Inc() }
