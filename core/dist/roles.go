package dist

import (
	"github.com/nats-io/nats-server/v2/server"
)

// Roles: the embedded server knows two users. The driver (a password made
// at each start, never leaving the process) may do anything; workers (user
// WorkerUser, the run's token as password) may only pull and acknowledge
// jobs, read the job inputs and attempts, and write results, trained
// weights, attempts, notes and heartbeats. A worker cannot manage streams,
// publish jobs, read results or impersonate the driver, whose replies go to
// an inbox prefix workers cannot subscribe to. What a worker can still do
// (store a wrong result for some job) the driver's check catches.
const (
	WorkerUser  = "worker"
	driverUser  = "driver"
	driverInbox = "_EAS_DRIVER"
)

func workerPermissions() *server.Permissions {
	var pub []string
	for _, s := range []string{JobStream, "KV_" + resultBucket, "KV_" + noteBucket, "KV_" + workerBucket, "KV_" + attemptBucket,
		"OBJ_" + inputBucket, "OBJ_" + outputBucket} {
		pub = append(pub, "$JS.API.STREAM.INFO."+s)
	}
	for _, s := range []string{"KV_" + noteBucket, "KV_" + attemptBucket, "OBJ_" + inputBucket, "OBJ_" + outputBucket} {
		pub = append(pub, "$JS.API.DIRECT.GET."+s, "$JS.API.DIRECT.GET."+s+".>", "$JS.API.STREAM.MSG.GET."+s)
	}
	pub = append(pub,
		"$JS.API.INFO",
		"$JS.API.CONSUMER.INFO."+JobStream+"."+consumerName,
		"$JS.API.CONSUMER.MSG.NEXT."+JobStream+"."+consumerName,
		"$JS.ACK."+JobStream+"."+consumerName+".>",
		// reading input objects takes an ordered consumer of their chunks
		"$JS.API.CONSUMER.CREATE.OBJ_"+inputBucket, "$JS.API.CONSUMER.CREATE.OBJ_"+inputBucket+".>",
		"$JS.API.CONSUMER.DELETE.OBJ_"+inputBucket+".>",
		// and epoch checkpoints (resume/<id>) in the output store
		"$JS.API.CONSUMER.CREATE.OBJ_"+outputBucket, "$JS.API.CONSUMER.CREATE.OBJ_"+outputBucket+".>",
		"$JS.API.CONSUMER.DELETE.OBJ_"+outputBucket+".>",
		// flow control of those consumers (objects over a few MB)
		"$JS.FC.OBJ_"+inputBucket+".>", "$JS.FC.OBJ_"+outputBucket+".>",
		"$KV."+resultBucket+".*", "$KV."+noteBucket+".*", "$KV."+workerBucket+".*", "$KV."+attemptBucket+".*",
		"$O."+outputBucket+".C.>", "$O."+outputBucket+".M.>",
	)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

func roleUsers(workerToken, driverPassword string) []*server.User {
	return []*server.User{
		{Username: driverUser, Password: driverPassword},
		{Username: WorkerUser, Password: workerToken, Permissions: workerPermissions()},
	}
}
