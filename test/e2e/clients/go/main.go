// Runs AWS SDK for Go v2 calls given as JSON and prints their outcomes as JSON (one list): the
// Go counterpart of test/e2e/clients/boto3_calls.py, built by test/e2e/go-sdk.test.ts (and by
// .ci/run before npm test).
//
// argv[1]: JSON list of {"op": "s3.PutObject", "params": {...}}
// Environment: the agent's, read by config.LoadDefaultConfig as any Go program would: AWS keys and
// region, HTTPS_PROXY (the default transport's http.ProxyFromEnvironment) with AWS_CA_BUNDLE, or
// AWS_ENDPOINT_URL for endpoint mode.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

type params struct {
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	Body     string `json:"body"`
	Prefix   string `json:"prefix"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"partSize"`
	Table    string `json:"table"`
	PK       string `json:"pk"`
	Value    string `json:"value"`
	Queue    string `json:"queue"`
	QueueURL string `json:"queueUrl"`
}

type call struct {
	Op     string `json:"op"`
	Params params `json:"params"`
}

type outcome struct {
	OK      bool   `json:"ok"`
	Result  any    `json:"result,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Status  int    `json:"status,omitempty"`
}

type clients struct {
	s3     *s3.Client
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	upload *manager.Uploader
}

// pattern is `size` bytes where byte i is i mod 256 (as test/support/chunked_upload.py makes).
func pattern(size int64) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 256)
	}
	return b
}

func run(ctx context.Context, c clients, op string, p params) (any, error) {
	switch op {
	case "s3.PutObject":
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &p.Bucket, Key: &p.Key, Body: bytes.NewReader([]byte(p.Body))})
		return nil, err
	case "s3.GetObject":
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.Bucket, Key: &p.Key})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		body, err := io.ReadAll(out.Body)
		return map[string]any{"body": string(body)}, err
	case "s3.HeadObject":
		out, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &p.Bucket, Key: &p.Key})
		if err != nil {
			return nil, err
		}
		return map[string]any{"contentLength": aws.ToInt64(out.ContentLength)}, nil
	case "s3.ListObjectsV2":
		out, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &p.Bucket, Prefix: &p.Prefix})
		if err != nil {
			return nil, err
		}
		keys := []string{}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return map[string]any{"keys": keys}, nil
	case "s3.DeleteObject":
		_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &p.Bucket, Key: &p.Key})
		return nil, err
	case "s3.Upload":
		// manager.Uploader: CreateMultipartUpload, UploadPart per PartSize (concurrently), CompleteMultipartUpload.
		out, err := c.upload.Upload(ctx, &s3.PutObjectInput{Bucket: &p.Bucket, Key: &p.Key, Body: bytes.NewReader(pattern(p.Size))}, func(u *manager.Uploader) {
			u.PartSize = p.PartSize
		})
		if err != nil {
			return nil, err
		}
		return map[string]any{"uploadId": out.UploadID, "parts": len(out.CompletedParts)}, nil
	case "dynamodb.PutItem":
		_, err := c.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &p.Table, Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: p.PK},
			"v":  &ddbtypes.AttributeValueMemberS{Value: p.Value},
		}})
		return nil, err
	case "dynamodb.GetItem":
		out, err := c.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: &p.Table, Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: p.PK}}})
		if err != nil {
			return nil, err
		}
		item := map[string]string{}
		for name, value := range out.Item {
			if s, ok := value.(*ddbtypes.AttributeValueMemberS); ok {
				item[name] = s.Value
			}
		}
		return map[string]any{"item": item}, nil
	case "sqs.GetQueueUrl":
		out, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &p.Queue})
		if err != nil {
			return nil, err
		}
		return map[string]any{"queueUrl": aws.ToString(out.QueueUrl)}, nil
	case "sqs.SendMessage":
		out, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &p.QueueURL, MessageBody: &p.Body})
		if err != nil {
			return nil, err
		}
		return map[string]any{"messageId": aws.ToString(out.MessageId)}, nil
	case "sqs.ReceiveMessage":
		out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &p.QueueURL, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
		if err != nil {
			return nil, err
		}
		bodies := []string{}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		return map[string]any{"bodies": bodies}, nil
	}
	return nil, fmt.Errorf("unknown op %q", op)
}

func describe(err error) outcome {
	o := outcome{OK: false, Message: err.Error()}
	var api smithy.APIError
	if errors.As(err, &api) {
		o.Code = api.ErrorCode()
		o.Message = api.ErrorMessage()
	}
	var response *awshttp.ResponseError
	if errors.As(err, &response) {
		o.Status = response.HTTPStatusCode()
	}
	return o
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-sdk-calls CALLS_JSON")
		os.Exit(2)
	}
	var calls []call
	if err := json.Unmarshal([]byte(os.Args[1]), &calls); err != nil {
		fmt.Fprintln(os.Stderr, "bad calls:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(1)
	}
	s3Client := s3.NewFromConfig(cfg)
	c := clients{s3: s3Client, ddb: dynamodb.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg), upload: manager.NewUploader(s3Client)}
	results := []outcome{}
	for _, one := range calls {
		result, err := run(ctx, c, one.Op, one.Params)
		if err != nil {
			results = append(results, describe(err))
			continue
		}
		results = append(results, outcome{OK: true, Result: result})
	}
	out, _ := json.Marshal(results)
	fmt.Println(string(out))
}
