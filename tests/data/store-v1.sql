BEGIN TRANSACTION;
CREATE TABLE "actions" (
   "id" TEXT PRIMARY KEY,
   "run_id" INTEGER,
   "playbook" TEXT,
   "rule" TEXT,
   "outcome" TEXT,
   "reason" TEXT,
   "do" TEXT,
   "at" TEXT,
   "at_us" INTEGER,
   "key" TEXT,
   "subject" TEXT,
   "deadline" TEXT,
   "trigger_id" TEXT,
   "trigger_time" TEXT,
   "event_id" TEXT,
   "params" TEXT,
   "record" TEXT,
   "sort_key" TEXT,
   "printed" INTEGER
);
INSERT INTO "actions" VALUES('7d636e135b7611a4ef7eef0eef0cb693',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-06T15:20:00Z',1767712800000000,'"acme"','{"thread_id":"th-acme-1"}','2026-01-06T18:05:00Z','ev-000022','2026-01-06T14:05:00Z','ev-000026','{"metric":"ack_seconds","value":4500,"channel":"email"}','{"id":"7d636e135b7611a4ef7eef0eef0cb693","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-06T15:20:00Z","key":"acme","subject":{"thread_id":"th-acme-1"},"deadline":"2026-01-06T18:05:00Z","trigger":{"id":"ev-000022","type":"customer.message","time":"2026-01-06T14:05:00Z"},"event":{"id":"ev-000026","type":"vendor.reply","time":"2026-01-06T15:20:00Z"},"params":{"metric":"ack_seconds","value":4500,"channel":"email"}}','[1767712800000000,0,0,[3,"acme"],"{\"thread_id\":\"th-acme-1\"}",1767708300000000,"ev-000022",0,"met"]',1);
INSERT INTO "actions" VALUES('c992b224dd6b2d6ed51eedcfb82e1068',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-06T17:24:57Z',1767720297000000,'"wayne"','{"thread_id":"T-0000018"}','2026-01-06T18:32:50Z','ev-000024','2026-01-06T14:32:50Z','ev-000028','{"metric":"ack_seconds","value":10327,"channel":"chat"}','{"id":"c992b224dd6b2d6ed51eedcfb82e1068","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-06T17:24:57Z","key":"wayne","subject":{"thread_id":"T-0000018"},"deadline":"2026-01-06T18:32:50Z","trigger":{"id":"ev-000024","type":"customer.message","time":"2026-01-06T14:32:50Z"},"event":{"id":"ev-000028","type":"vendor.reply","time":"2026-01-06T17:24:57Z"},"params":{"metric":"ack_seconds","value":10327,"channel":"chat"}}','[1767720297000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000018\"}",1767709970000000,"ev-000024",0,"met"]',1);
INSERT INTO "actions" VALUES('368f5ec527bfbc9851d42dbb1099e2dd',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-07T13:39:43Z',1767793183000000,'"wayne"','{"thread_id":"T-0000018"}','2026-01-07T18:00:00Z','ev-000030','2026-01-07T08:22:55Z','ev-000031','{"metric":"ack_seconds","value":19008,"channel":"chat"}','{"id":"368f5ec527bfbc9851d42dbb1099e2dd","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-07T13:39:43Z","key":"wayne","subject":{"thread_id":"T-0000018"},"deadline":"2026-01-07T18:00:00Z","trigger":{"id":"ev-000030","type":"customer.message","time":"2026-01-07T08:22:55Z"},"event":{"id":"ev-000031","type":"vendor.reply","time":"2026-01-07T13:39:43Z"},"params":{"metric":"ack_seconds","value":19008,"channel":"chat"}}','[1767793183000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000018\"}",1767774175000000,"ev-000030",0,"met"]',1);
INSERT INTO "actions" VALUES('f7aa442251dde38762dff40e3cc685c5',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-12T20:02:59Z',1768248179000000,'"acme"','{"thread_id":"T-0000026"}','2026-01-13T14:29:35Z','ev-000051','2026-01-12T19:29:35Z','ev-000053','{"metric":"ack_seconds","value":2004,"channel":"email"}','{"id":"f7aa442251dde38762dff40e3cc685c5","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-12T20:02:59Z","key":"acme","subject":{"thread_id":"T-0000026"},"deadline":"2026-01-13T14:29:35Z","trigger":{"id":"ev-000051","type":"customer.message","time":"2026-01-12T19:29:35Z"},"event":{"id":"ev-000053","type":"vendor.reply","time":"2026-01-12T20:02:59Z"},"params":{"metric":"ack_seconds","value":2004,"channel":"email"}}','[1768248179000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000026\"}",1768246175000000,"ev-000051",0,"met"]',1);
INSERT INTO "actions" VALUES('044852fb8134125e9de94e56bd5b0749',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-13T13:50:49Z',1768312249000000,'"acme"','{"thread_id":"T-0000026"}','2026-01-13T18:00:00Z','ev-000056','2026-01-13T04:34:06Z','ev-000058','{"metric":"ack_seconds","value":33403,"channel":"email"}','{"id":"044852fb8134125e9de94e56bd5b0749","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-13T13:50:49Z","key":"acme","subject":{"thread_id":"T-0000026"},"deadline":"2026-01-13T18:00:00Z","trigger":{"id":"ev-000056","type":"customer.message","time":"2026-01-13T04:34:06Z"},"event":{"id":"ev-000058","type":"vendor.reply","time":"2026-01-13T13:50:49Z"},"params":{"metric":"ack_seconds","value":33403,"channel":"email"}}','[1768312249000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000026\"}",1768278846000000,"ev-000056",0,"met"]',1);
INSERT INTO "actions" VALUES('c566c221a0babf5a47dd612e2609c7f1',1,'us-retention','ack-within-4h','breach','deadline','escalate','2026-01-13T21:40:20Z',1768340420000000,'"acme"','{"thread_id":"T-0000026"}','2026-01-13T21:40:20Z','ev-000059','2026-01-13T17:40:20Z',NULL,'{"to":"dana@example.com","severity":"high","message":"No acknowledgement to acme within 4 business hours (waiting 4h) (email thread T-0000026, received Tue Jan 13 12:40 EST; SLA 4 business hours, due Tue 16:40 EST). A two-line \"received, on it\" is enough — send it now."}','{"id":"c566c221a0babf5a47dd612e2609c7f1","playbook":"us-retention","rule":"ack-within-4h","outcome":"breach","reason":"deadline","do":"escalate","at":"2026-01-13T21:40:20Z","key":"acme","subject":{"thread_id":"T-0000026"},"deadline":"2026-01-13T21:40:20Z","trigger":{"id":"ev-000059","type":"customer.message","time":"2026-01-13T17:40:20Z"},"event":null,"params":{"to":"dana@example.com","severity":"high","message":"No acknowledgement to acme within 4 business hours (waiting 4h) (email thread T-0000026, received Tue Jan 13 12:40 EST; SLA 4 business hours, due Tue 16:40 EST). A two-line \"received, on it\" is enough — send it now."}}','[1768340420000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000026\"}",1768326020000000,"ev-000059",0,"breach"]',1);
INSERT INTO "actions" VALUES('23652f28938dfb9a3f82f58696b2893d',1,'us-retention','ack-within-4h','breach','deadline','escalate','2026-01-13T22:00:00Z',1768341600000000,'"globex"','{"thread_id":"th-globex-1"}','2026-01-13T22:00:00Z','ev-000060','2026-01-13T18:00:00Z',NULL,'{"to":"lee@example.com","severity":"normal","message":"No acknowledgement to globex within 4 business hours (waiting 4h) (slack thread th-globex-1, received Tue Jan 13 13:00 EST; SLA 4 business hours, due Tue 17:00 EST). A two-line \"received, on it\" is enough — send it now."}','{"id":"23652f28938dfb9a3f82f58696b2893d","playbook":"us-retention","rule":"ack-within-4h","outcome":"breach","reason":"deadline","do":"escalate","at":"2026-01-13T22:00:00Z","key":"globex","subject":{"thread_id":"th-globex-1"},"deadline":"2026-01-13T22:00:00Z","trigger":{"id":"ev-000060","type":"customer.message","time":"2026-01-13T18:00:00Z"},"event":null,"params":{"to":"lee@example.com","severity":"normal","message":"No acknowledgement to globex within 4 business hours (waiting 4h) (slack thread th-globex-1, received Tue Jan 13 13:00 EST; SLA 4 business hours, due Tue 17:00 EST). A two-line \"received, on it\" is enough — send it now."}}','[1768341600000000,0,0,[3,"globex"],"{\"thread_id\":\"th-globex-1\"}",1768327200000000,"ev-000060",0,"breach"]',1);
INSERT INTO "actions" VALUES('152f18cacc2493635a16f3405fd4d2f1',1,'us-retention','ack-within-4h','late',NULL,'task','2026-01-13T22:30:51Z',1768343451000000,'"acme"','{"thread_id":"T-0000026"}','2026-01-13T21:40:20Z','ev-000059','2026-01-13T17:40:20Z','ev-000061','{"assignee":"dana@example.com","title":"Follow up with acme: thread T-0000026 waited 4h 50m 31s","message":"Our first reply came 50m 31s past the 4-business-hour SLA. Check the answer landed well and apologise for the wait if it mattered."}','{"id":"152f18cacc2493635a16f3405fd4d2f1","playbook":"us-retention","rule":"ack-within-4h","outcome":"late","reason":null,"do":"task","at":"2026-01-13T22:30:51Z","key":"acme","subject":{"thread_id":"T-0000026"},"deadline":"2026-01-13T21:40:20Z","trigger":{"id":"ev-000059","type":"customer.message","time":"2026-01-13T17:40:20Z"},"event":{"id":"ev-000061","type":"vendor.reply","time":"2026-01-13T22:30:51Z"},"params":{"assignee":"dana@example.com","title":"Follow up with acme: thread T-0000026 waited 4h 50m 31s","message":"Our first reply came 50m 31s past the 4-business-hour SLA. Check the answer landed well and apologise for the wait if it mattered."}}','[1768343451000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000026\"}",1768326020000000,"ev-000059",0,"late"]',1);
INSERT INTO "actions" VALUES('c3b6d1c66454987b4d4451c28eda6a99',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-14T06:54:46Z',1768373686000000,'"acme"','{"thread_id":"T-0000026"}','2026-01-14T18:00:00Z','ev-000065','2026-01-14T06:02:37Z','ev-000066','{"metric":"ack_seconds","value":3129,"channel":"email"}','{"id":"c3b6d1c66454987b4d4451c28eda6a99","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-14T06:54:46Z","key":"acme","subject":{"thread_id":"T-0000026"},"deadline":"2026-01-14T18:00:00Z","trigger":{"id":"ev-000065","type":"customer.message","time":"2026-01-14T06:02:37Z"},"event":{"id":"ev-000066","type":"vendor.reply","time":"2026-01-14T06:54:46Z"},"params":{"metric":"ack_seconds","value":3129,"channel":"email"}}','[1768373686000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000026\"}",1768370557000000,"ev-000065",0,"met"]',1);
INSERT INTO "actions" VALUES('9ec098497e2df9597a0e9ce36eafa4a5',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-21T14:10:00Z',1769004600000000,'"initech"','{"thread_id":"th-initech-1"}','2026-01-21T15:30:00Z','ev-000079','2026-01-20T20:30:00Z','ev-000080','{"metric":"ack_seconds","value":63600,"channel":"chat"}','{"id":"9ec098497e2df9597a0e9ce36eafa4a5","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-21T14:10:00Z","key":"initech","subject":{"thread_id":"th-initech-1"},"deadline":"2026-01-21T15:30:00Z","trigger":{"id":"ev-000079","type":"customer.message","time":"2026-01-20T20:30:00Z"},"event":{"id":"ev-000080","type":"vendor.reply","time":"2026-01-21T14:10:00Z"},"params":{"metric":"ack_seconds","value":63600,"channel":"chat"}}','[1769004600000000,0,0,[3,"initech"],"{\"thread_id\":\"th-initech-1\"}",1768941000000000,"ev-000079",0,"met"]',1);
INSERT INTO "actions" VALUES('0ec1224270ebff3a4568f72d84dce1ef',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-21T19:13:38Z',1769022818000000,'"stark"','{"thread_id":"T-0000015"}','2026-01-21T22:16:31Z','ev-000082','2026-01-21T18:16:31Z','ev-000083','{"metric":"ack_seconds","value":3427,"channel":"slack"}','{"id":"0ec1224270ebff3a4568f72d84dce1ef","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-21T19:13:38Z","key":"stark","subject":{"thread_id":"T-0000015"},"deadline":"2026-01-21T22:16:31Z","trigger":{"id":"ev-000082","type":"customer.message","time":"2026-01-21T18:16:31Z"},"event":{"id":"ev-000083","type":"vendor.reply","time":"2026-01-21T19:13:38Z"},"params":{"metric":"ack_seconds","value":3427,"channel":"slack"}}','[1769022818000000,0,0,[3,"stark"],"{\"thread_id\":\"T-0000015\"}",1769019391000000,"ev-000082",0,"met"]',1);
INSERT INTO "actions" VALUES('7fd54cfd1f2d6e6b942480b8a278ca18',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-22T20:42:08Z',1769114528000000,'"wayne"','{"thread_id":"T-0000002"}','2026-01-22T22:49:18Z','ev-000086','2026-01-22T18:49:18Z','ev-000087','{"metric":"ack_seconds","value":6770,"channel":"email"}','{"id":"7fd54cfd1f2d6e6b942480b8a278ca18","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-22T20:42:08Z","key":"wayne","subject":{"thread_id":"T-0000002"},"deadline":"2026-01-22T22:49:18Z","trigger":{"id":"ev-000086","type":"customer.message","time":"2026-01-22T18:49:18Z"},"event":{"id":"ev-000087","type":"vendor.reply","time":"2026-01-22T20:42:08Z"},"params":{"metric":"ack_seconds","value":6770,"channel":"email"}}','[1769114528000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000002\"}",1769107758000000,"ev-000086",0,"met"]',1);
INSERT INTO "actions" VALUES('bd784645af5e01bc5cbe585b54303d3f',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-23T02:44:38Z',1769136278000000,'"wayne"','{"thread_id":"T-0000002"}','2026-01-23T17:15:08Z','ev-000088','2026-01-22T22:15:08Z','ev-000090','{"metric":"ack_seconds","value":16170,"channel":"email"}','{"id":"bd784645af5e01bc5cbe585b54303d3f","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-23T02:44:38Z","key":"wayne","subject":{"thread_id":"T-0000002"},"deadline":"2026-01-23T17:15:08Z","trigger":{"id":"ev-000088","type":"customer.message","time":"2026-01-22T22:15:08Z"},"event":{"id":"ev-000090","type":"vendor.reply","time":"2026-01-23T02:44:38Z"},"params":{"metric":"ack_seconds","value":16170,"channel":"email"}}','[1769136278000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000002\"}",1769120108000000,"ev-000088",0,"met"]',1);
INSERT INTO "actions" VALUES('65ab70a80f1c04d0c1e0e412d78b7cd0',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-23T06:05:24Z',1769148324000000,'"wayne"','{"thread_id":"T-0000002"}','2026-01-23T18:00:00Z','ev-000091','2026-01-23T05:06:04Z','ev-000092','{"metric":"ack_seconds","value":3560,"channel":"email"}','{"id":"65ab70a80f1c04d0c1e0e412d78b7cd0","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-23T06:05:24Z","key":"wayne","subject":{"thread_id":"T-0000002"},"deadline":"2026-01-23T18:00:00Z","trigger":{"id":"ev-000091","type":"customer.message","time":"2026-01-23T05:06:04Z"},"event":{"id":"ev-000092","type":"vendor.reply","time":"2026-01-23T06:05:24Z"},"params":{"metric":"ack_seconds","value":3560,"channel":"email"}}','[1769148324000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000002\"}",1769144764000000,"ev-000091",0,"met"]',1);
INSERT INTO "actions" VALUES('8929928dc91936658cb0aa875bac9614',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-23T16:51:45Z',1769187105000000,'"wayne"','{"thread_id":"T-0000002"}','2026-01-23T18:00:00Z','ev-000093','2026-01-23T13:39:59Z','ev-000094','{"metric":"ack_seconds","value":11506,"channel":"email"}','{"id":"8929928dc91936658cb0aa875bac9614","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-23T16:51:45Z","key":"wayne","subject":{"thread_id":"T-0000002"},"deadline":"2026-01-23T18:00:00Z","trigger":{"id":"ev-000093","type":"customer.message","time":"2026-01-23T13:39:59Z"},"event":{"id":"ev-000094","type":"vendor.reply","time":"2026-01-23T16:51:45Z"},"params":{"metric":"ack_seconds","value":11506,"channel":"email"}}','[1769187105000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000002\"}",1769175599000000,"ev-000093",0,"met"]',1);
INSERT INTO "actions" VALUES('78c93beaa07871638c2fe5dff158de31',1,'us-retention','disclose-before-notice','met',NULL,'record_metric','2026-01-27T15:35:00Z',1769528100000000,'"acme"','{"incident_id":"INC-2041"}','2026-01-27T16:10:00Z','ev-000099','2026-01-27T15:10:00Z','ev-000101','{"metric":"disclosure_seconds","value":1500,"severity":"sev2"}','{"id":"78c93beaa07871638c2fe5dff158de31","playbook":"us-retention","rule":"disclose-before-notice","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-27T15:35:00Z","key":"acme","subject":{"incident_id":"INC-2041"},"deadline":"2026-01-27T16:10:00Z","trigger":{"id":"ev-000099","type":"incident.opened","time":"2026-01-27T15:10:00Z"},"event":{"id":"ev-000101","type":"incident.disclosed","time":"2026-01-27T15:35:00Z"},"params":{"metric":"disclosure_seconds","value":1500,"severity":"sev2"}}','[1769528100000000,0,2,[3,"acme"],"{\"incident_id\":\"INC-2041\"}",1769526600000000,"ev-000099",0,"met"]',1);
INSERT INTO "actions" VALUES('61970dd4abfee2b826938647b91ea52e',1,'us-retention','disclose-before-notice','met',NULL,'record_metric','2026-01-27T15:40:00Z',1769528400000000,'"globex"','{"incident_id":"INC-2041"}','2026-01-27T16:11:00Z','ev-000100','2026-01-27T15:11:00Z','ev-000102','{"metric":"disclosure_seconds","value":1740,"severity":"sev2"}','{"id":"61970dd4abfee2b826938647b91ea52e","playbook":"us-retention","rule":"disclose-before-notice","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-27T15:40:00Z","key":"globex","subject":{"incident_id":"INC-2041"},"deadline":"2026-01-27T16:11:00Z","trigger":{"id":"ev-000100","type":"incident.opened","time":"2026-01-27T15:11:00Z"},"event":{"id":"ev-000102","type":"incident.disclosed","time":"2026-01-27T15:40:00Z"},"params":{"metric":"disclosure_seconds","value":1740,"severity":"sev2"}}','[1769528400000000,0,2,[3,"globex"],"{\"incident_id\":\"INC-2041\"}",1769526660000000,"ev-000100",0,"met"]',1);
INSERT INTO "actions" VALUES('eb672fee7ba698191137711c1d19577c',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-28T13:30:00Z',1769607000000000,'"stark"','{"thread_id":"th-stark-1"}','2026-01-28T16:00:00Z','ev-000107','2026-01-27T21:00:00Z','ev-000109','{"metric":"ack_seconds","value":59400,"channel":"email"}','{"id":"eb672fee7ba698191137711c1d19577c","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-28T13:30:00Z","key":"stark","subject":{"thread_id":"th-stark-1"},"deadline":"2026-01-28T16:00:00Z","trigger":{"id":"ev-000107","type":"customer.message","time":"2026-01-27T21:00:00Z"},"event":{"id":"ev-000109","type":"vendor.reply","time":"2026-01-28T13:30:00Z"},"params":{"metric":"ack_seconds","value":59400,"channel":"email"}}','[1769607000000000,0,0,[3,"stark"],"{\"thread_id\":\"th-stark-1\"}",1769547600000000,"ev-000107",0,"met"]',1);
INSERT INTO "actions" VALUES('e9d3084305816c516ef271782d545dc1',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-01-29T19:41:04Z',1769715664000000,'"stark"','{"thread_id":"T-0000007"}','2026-01-29T22:10:10Z','ev-000115','2026-01-29T18:10:10Z','ev-000116','{"metric":"ack_seconds","value":5454,"channel":"slack"}','{"id":"e9d3084305816c516ef271782d545dc1","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-01-29T19:41:04Z","key":"stark","subject":{"thread_id":"T-0000007"},"deadline":"2026-01-29T22:10:10Z","trigger":{"id":"ev-000115","type":"customer.message","time":"2026-01-29T18:10:10Z"},"event":{"id":"ev-000116","type":"vendor.reply","time":"2026-01-29T19:41:04Z"},"params":{"metric":"ack_seconds","value":5454,"channel":"slack"}}','[1769715664000000,0,0,[3,"stark"],"{\"thread_id\":\"T-0000007\"}",1769710210000000,"ev-000115",0,"met"]',1);
INSERT INTO "actions" VALUES('df8ca1fb6d24214911182f1e655f9960',1,'us-retention','propose-multilingual','match',NULL,'propose','2026-02-03T16:00:00Z',1770134400000000,'"acme"','{}',NULL,'ev-000125','2026-02-03T16:00:00Z','ev-000125','{"to":"dana@example.com","module":"multilingual","message":"acme is expanding into Japan (APAC). Offer a demo of the multilingual module before they go looking elsewhere."}','{"id":"df8ca1fb6d24214911182f1e655f9960","playbook":"us-retention","rule":"propose-multilingual","outcome":"match","reason":null,"do":"propose","at":"2026-02-03T16:00:00Z","key":"acme","subject":{},"deadline":null,"trigger":{"id":"ev-000125","type":"signal.expansion","time":"2026-02-03T16:00:00Z"},"event":{"id":"ev-000125","type":"signal.expansion","time":"2026-02-03T16:00:00Z"},"params":{"to":"dana@example.com","module":"multilingual","message":"acme is expanding into Japan (APAC). Offer a demo of the multilingual module before they go looking elsewhere."}}','[1770134400000000,0,3,[3,"acme"],"{}",1770134400000000,"ev-000125",0,"match"]',1);
INSERT INTO "actions" VALUES('7bee9cce93efd795d32534d489fe2514',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-06T20:01:20Z',1770408080000000,'"globex"','{"thread_id":"T-0000008"}','2026-02-06T22:24:19Z','ev-000134','2026-02-06T18:24:19Z','ev-000137','{"metric":"ack_seconds","value":5821,"channel":"chat"}','{"id":"7bee9cce93efd795d32534d489fe2514","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-06T20:01:20Z","key":"globex","subject":{"thread_id":"T-0000008"},"deadline":"2026-02-06T22:24:19Z","trigger":{"id":"ev-000134","type":"customer.message","time":"2026-02-06T18:24:19Z"},"event":{"id":"ev-000137","type":"vendor.reply","time":"2026-02-06T20:01:20Z"},"params":{"metric":"ack_seconds","value":5821,"channel":"chat"}}','[1770408080000000,0,0,[3,"globex"],"{\"thread_id\":\"T-0000008\"}",1770402259000000,"ev-000134",0,"met"]',1);
INSERT INTO "actions" VALUES('8aec51ee92aa5fc0ed2e548046de1da3',1,'us-retention','disclose-before-notice','met',NULL,'record_metric','2026-02-10T02:50:00Z',1770691800000000,'"wayne"','{"incident_id":"INC-2057"}','2026-02-10T03:15:00Z','ev-000145','2026-02-10T02:15:00Z','ev-000147','{"metric":"disclosure_seconds","value":2100,"severity":"sev1"}','{"id":"8aec51ee92aa5fc0ed2e548046de1da3","playbook":"us-retention","rule":"disclose-before-notice","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-10T02:50:00Z","key":"wayne","subject":{"incident_id":"INC-2057"},"deadline":"2026-02-10T03:15:00Z","trigger":{"id":"ev-000145","type":"incident.opened","time":"2026-02-10T02:15:00Z"},"event":{"id":"ev-000147","type":"incident.disclosed","time":"2026-02-10T02:50:00Z"},"params":{"metric":"disclosure_seconds","value":2100,"severity":"sev1"}}','[1770691800000000,0,2,[3,"wayne"],"{\"incident_id\":\"INC-2057\"}",1770689700000000,"ev-000145",0,"met"]',1);
INSERT INTO "actions" VALUES('553df63fbe12e80f25742c6ce78b2113',1,'us-retention','disclose-before-notice','breach','deadline','escalate','2026-02-10T03:15:00Z',1770693300000000,'"initech"','{"incident_id":"INC-2057"}','2026-02-10T03:15:00Z','ev-000146','2026-02-10T02:15:00Z',NULL,'{"to":"incident-comms@example.com","cc":null,"severity":"critical","message":"Not disclosed within 1h: sev1 incident INC-2057 for initech, 1h after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}','{"id":"553df63fbe12e80f25742c6ce78b2113","playbook":"us-retention","rule":"disclose-before-notice","outcome":"breach","reason":"deadline","do":"escalate","at":"2026-02-10T03:15:00Z","key":"initech","subject":{"incident_id":"INC-2057"},"deadline":"2026-02-10T03:15:00Z","trigger":{"id":"ev-000146","type":"incident.opened","time":"2026-02-10T02:15:00Z"},"event":null,"params":{"to":"incident-comms@example.com","cc":null,"severity":"critical","message":"Not disclosed within 1h: sev1 incident INC-2057 for initech, 1h after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}}','[1770693300000000,0,2,[3,"initech"],"{\"incident_id\":\"INC-2057\"}",1770689700000000,"ev-000146",0,"breach"]',1);
INSERT INTO "actions" VALUES('f22a18f3917fb8e1c375f64a689c8c4d',1,'us-retention','disclose-before-notice','late',NULL,'task','2026-02-10T04:30:00Z',1770697800000000,'"initech"','{"incident_id":"INC-2057"}','2026-02-10T03:15:00Z','ev-000146','2026-02-10T02:15:00Z','ev-000148','{"assignee":"cs-leads@example.com","title":"Debrief initech on incident INC-2057","message":"Disclosed 2h 15m after the incident opened. Call the account, own the delay, and add it to the next QBR."}','{"id":"f22a18f3917fb8e1c375f64a689c8c4d","playbook":"us-retention","rule":"disclose-before-notice","outcome":"late","reason":null,"do":"task","at":"2026-02-10T04:30:00Z","key":"initech","subject":{"incident_id":"INC-2057"},"deadline":"2026-02-10T03:15:00Z","trigger":{"id":"ev-000146","type":"incident.opened","time":"2026-02-10T02:15:00Z"},"event":{"id":"ev-000148","type":"incident.disclosed","time":"2026-02-10T04:30:00Z"},"params":{"assignee":"cs-leads@example.com","title":"Debrief initech on incident INC-2057","message":"Disclosed 2h 15m after the incident opened. Call the account, own the delay, and add it to the next QBR."}}','[1770697800000000,0,2,[3,"initech"],"{\"incident_id\":\"INC-2057\"}",1770689700000000,"ev-000146",0,"late"]',1);
INSERT INTO "actions" VALUES('380938f53a0fe6779df0747abc966704',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-11T21:00:18Z',1770843618000000,'"acme"','{"thread_id":"T-0000022"}','2026-02-12T14:21:04Z','ev-000158','2026-02-11T19:21:04Z','ev-000159','{"metric":"ack_seconds","value":5954,"channel":"slack"}','{"id":"380938f53a0fe6779df0747abc966704","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-11T21:00:18Z","key":"acme","subject":{"thread_id":"T-0000022"},"deadline":"2026-02-12T14:21:04Z","trigger":{"id":"ev-000158","type":"customer.message","time":"2026-02-11T19:21:04Z"},"event":{"id":"ev-000159","type":"vendor.reply","time":"2026-02-11T21:00:18Z"},"params":{"metric":"ack_seconds","value":5954,"channel":"slack"}}','[1770843618000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000022\"}",1770837664000000,"ev-000158",0,"met"]',1);
INSERT INTO "actions" VALUES('bc478d6f3bd574dcd1178c475445db8e',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-12T21:30:45Z',1770931845000000,'"acme"','{"thread_id":"T-0000022"}','2026-02-13T15:26:21Z','ev-000166','2026-02-12T20:26:21Z','ev-000167','{"metric":"ack_seconds","value":3864,"channel":"slack"}','{"id":"bc478d6f3bd574dcd1178c475445db8e","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-12T21:30:45Z","key":"acme","subject":{"thread_id":"T-0000022"},"deadline":"2026-02-13T15:26:21Z","trigger":{"id":"ev-000166","type":"customer.message","time":"2026-02-12T20:26:21Z"},"event":{"id":"ev-000167","type":"vendor.reply","time":"2026-02-12T21:30:45Z"},"params":{"metric":"ack_seconds","value":3864,"channel":"slack"}}','[1770931845000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000022\"}",1770927981000000,"ev-000166",0,"met"]',1);
INSERT INTO "actions" VALUES('0b7525a738e4a08048cd98e7bf60ba32',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-18T21:34:20Z',1771450460000000,'"soylent"','{"thread_id":"T-0000013"}','2026-02-19T16:18:20Z','ev-000182','2026-02-18T21:18:20Z','ev-000183','{"metric":"ack_seconds","value":960,"channel":"slack"}','{"id":"0b7525a738e4a08048cd98e7bf60ba32","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-18T21:34:20Z","key":"soylent","subject":{"thread_id":"T-0000013"},"deadline":"2026-02-19T16:18:20Z","trigger":{"id":"ev-000182","type":"customer.message","time":"2026-02-18T21:18:20Z"},"event":{"id":"ev-000183","type":"vendor.reply","time":"2026-02-18T21:34:20Z"},"params":{"metric":"ack_seconds","value":960,"channel":"slack"}}','[1771450460000000,0,0,[3,"soylent"],"{\"thread_id\":\"T-0000013\"}",1771449500000000,"ev-000182",0,"met"]',1);
INSERT INTO "actions" VALUES('5490890bd9d4077a23073c5b723f80e7',1,'us-retention','propose-onboarding','match',NULL,'propose','2026-02-23T14:00:00Z',1771855200000000,'"globex"','{"location":"Austin"}',NULL,'ev-000193','2026-02-23T14:00:00Z','ev-000193','{"to":"lee@example.com","module":"onboarding","message":"globex is hiring sales reps in Austin (3+ openings in 30 days, 120 seats today). Our onboarding module could cut their ramp-up time by 20% — offer to show them."}','{"id":"5490890bd9d4077a23073c5b723f80e7","playbook":"us-retention","rule":"propose-onboarding","outcome":"match","reason":null,"do":"propose","at":"2026-02-23T14:00:00Z","key":"globex","subject":{"location":"Austin"},"deadline":null,"trigger":{"id":"ev-000193","type":"signal.hiring","time":"2026-02-23T14:00:00Z"},"event":{"id":"ev-000193","type":"signal.hiring","time":"2026-02-23T14:00:00Z"},"params":{"to":"lee@example.com","module":"onboarding","message":"globex is hiring sales reps in Austin (3+ openings in 30 days, 120 seats today). Our onboarding module could cut their ramp-up time by 20% — offer to show them."}}','[1771855200000000,0,4,[3,"globex"],"{\"location\":\"Austin\"}",1771855200000000,"ev-000193",0,"match"]',1);
INSERT INTO "actions" VALUES('331794f6e06e190aadd4d072198c416a',1,'us-retention','disclose-before-notice','breach','deadline','escalate','2026-02-24T20:00:00Z',1771963200000000,'"soylent"','{"incident_id":"INC-2063"}','2026-02-24T20:00:00Z','ev-000200','2026-02-24T19:00:00Z',NULL,'{"to":"incident-comms@example.com","cc":"lee@example.com","severity":"high","message":"Not disclosed within 1h: sev2 incident INC-2063 for soylent, 1h after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}','{"id":"331794f6e06e190aadd4d072198c416a","playbook":"us-retention","rule":"disclose-before-notice","outcome":"breach","reason":"deadline","do":"escalate","at":"2026-02-24T20:00:00Z","key":"soylent","subject":{"incident_id":"INC-2063"},"deadline":"2026-02-24T20:00:00Z","trigger":{"id":"ev-000200","type":"incident.opened","time":"2026-02-24T19:00:00Z"},"event":null,"params":{"to":"incident-comms@example.com","cc":"lee@example.com","severity":"high","message":"Not disclosed within 1h: sev2 incident INC-2063 for soylent, 1h after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}}','[1771963200000000,0,2,[3,"soylent"],"{\"incident_id\":\"INC-2063\"}",1771959600000000,"ev-000200",0,"breach"]',1);
INSERT INTO "actions" VALUES('aad7d216ebf0035756d5333f32e66aa4',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-24T21:31:51Z',1771968711000000,'"hooli"','{"thread_id":"T-0000016"}','2026-02-25T14:55:51Z','ev-000202','2026-02-24T19:55:51Z','ev-000204','{"metric":"ack_seconds","value":5760,"channel":"email"}','{"id":"aad7d216ebf0035756d5333f32e66aa4","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-24T21:31:51Z","key":"hooli","subject":{"thread_id":"T-0000016"},"deadline":"2026-02-25T14:55:51Z","trigger":{"id":"ev-000202","type":"customer.message","time":"2026-02-24T19:55:51Z"},"event":{"id":"ev-000204","type":"vendor.reply","time":"2026-02-24T21:31:51Z"},"params":{"metric":"ack_seconds","value":5760,"channel":"email"}}','[1771968711000000,0,0,[3,"hooli"],"{\"thread_id\":\"T-0000016\"}",1771962951000000,"ev-000202",0,"met"]',1);
INSERT INTO "actions" VALUES('d17c9d879d57083cb43060e3d1e1ad8d',1,'us-retention','qbr-every-90d','met',NULL,'record_metric','2026-02-26T19:00:00Z',1772132400000000,'"acme"','{}','2026-04-05T15:00:00Z','ev-000013','2026-01-05T15:00:00Z','ev-000208','{"metric":"qbr_roi_usd","value":185000}','{"id":"d17c9d879d57083cb43060e3d1e1ad8d","playbook":"us-retention","rule":"qbr-every-90d","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-26T19:00:00Z","key":"acme","subject":{},"deadline":"2026-04-05T15:00:00Z","trigger":{"id":"ev-000013","type":"contract.signed","time":"2026-01-05T15:00:00Z"},"event":{"id":"ev-000208","type":"qbr.held","time":"2026-02-26T19:00:00Z"},"params":{"metric":"qbr_roi_usd","value":185000}}','[1772132400000000,0,1,[3,"acme"],"{}",1767625200000000,"ev-000013",0,"met"]',1);
INSERT INTO "actions" VALUES('2b3ccd36dd2c53fe42cad239d2d0d4f7',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-27T19:18:04Z',1772219884000000,'"globex"','{"thread_id":"T-0000009"}','2026-02-27T21:08:35Z','ev-000210','2026-02-27T17:08:35Z','ev-000211','{"metric":"ack_seconds","value":7769,"channel":"slack"}','{"id":"2b3ccd36dd2c53fe42cad239d2d0d4f7","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-27T19:18:04Z","key":"globex","subject":{"thread_id":"T-0000009"},"deadline":"2026-02-27T21:08:35Z","trigger":{"id":"ev-000210","type":"customer.message","time":"2026-02-27T17:08:35Z"},"event":{"id":"ev-000211","type":"vendor.reply","time":"2026-02-27T19:18:04Z"},"params":{"metric":"ack_seconds","value":7769,"channel":"slack"}}','[1772219884000000,0,0,[3,"globex"],"{\"thread_id\":\"T-0000009\"}",1772212115000000,"ev-000210",0,"met"]',1);
INSERT INTO "actions" VALUES('acd57c16b2b22039cb4693bc95440809',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-27T22:36:26Z',1772231786000000,'"acme"','{"thread_id":"T-0000012"}','2026-03-02T14:18:21Z','ev-000212','2026-02-27T19:18:21Z','ev-000214','{"metric":"ack_seconds","value":11885,"channel":"email"}','{"id":"acd57c16b2b22039cb4693bc95440809","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-27T22:36:26Z","key":"acme","subject":{"thread_id":"T-0000012"},"deadline":"2026-03-02T14:18:21Z","trigger":{"id":"ev-000212","type":"customer.message","time":"2026-02-27T19:18:21Z"},"event":{"id":"ev-000214","type":"vendor.reply","time":"2026-02-27T22:36:26Z"},"params":{"metric":"ack_seconds","value":11885,"channel":"email"}}','[1772231786000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000012\"}",1772219901000000,"ev-000212",0,"met"]',1);
INSERT INTO "actions" VALUES('d32a36ac40cbf9c945f1ce8273589d06',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-02-28T00:39:05Z',1772239145000000,'"acme"','{"thread_id":"T-0000012"}','2026-03-02T18:00:00Z','ev-000215','2026-02-28T00:24:20Z','ev-000216','{"metric":"ack_seconds","value":885,"channel":"email"}','{"id":"d32a36ac40cbf9c945f1ce8273589d06","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-02-28T00:39:05Z","key":"acme","subject":{"thread_id":"T-0000012"},"deadline":"2026-03-02T18:00:00Z","trigger":{"id":"ev-000215","type":"customer.message","time":"2026-02-28T00:24:20Z"},"event":{"id":"ev-000216","type":"vendor.reply","time":"2026-02-28T00:39:05Z"},"params":{"metric":"ack_seconds","value":885,"channel":"email"}}','[1772239145000000,0,0,[3,"acme"],"{\"thread_id\":\"T-0000012\"}",1772238260000000,"ev-000215",0,"met"]',1);
INSERT INTO "actions" VALUES('c7b1310e3248a82133b85394f90afc6c',1,'us-retention','propose-multilingual','match',NULL,'propose','2026-03-04T16:00:00Z',1772640000000000,'"wayne"','{}',NULL,'ev-000226','2026-03-04T16:00:00Z','ev-000226','{"to":"dana@example.com","module":"multilingual","message":"wayne is expanding into Mexico (LATAM). Offer a demo of the multilingual module before they go looking elsewhere."}','{"id":"c7b1310e3248a82133b85394f90afc6c","playbook":"us-retention","rule":"propose-multilingual","outcome":"match","reason":null,"do":"propose","at":"2026-03-04T16:00:00Z","key":"wayne","subject":{},"deadline":null,"trigger":{"id":"ev-000226","type":"signal.expansion","time":"2026-03-04T16:00:00Z"},"event":{"id":"ev-000226","type":"signal.expansion","time":"2026-03-04T16:00:00Z"},"params":{"to":"dana@example.com","module":"multilingual","message":"wayne is expanding into Mexico (LATAM). Offer a demo of the multilingual module before they go looking elsewhere."}}','[1772640000000000,0,3,[3,"wayne"],"{}",1772640000000000,"ev-000226",0,"match"]',1);
INSERT INTO "actions" VALUES('5db21a8657ba106f6ba44aff11e2e428',1,'us-retention','qbr-every-90d','met',NULL,'record_metric','2026-03-05T16:00:00Z',1772726400000000,'"soylent"','{}','2026-04-09T15:00:00Z','ev-000041','2026-01-09T15:00:00Z','ev-000231','{"metric":"qbr_roi_usd","value":42000}','{"id":"5db21a8657ba106f6ba44aff11e2e428","playbook":"us-retention","rule":"qbr-every-90d","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-05T16:00:00Z","key":"soylent","subject":{},"deadline":"2026-04-09T15:00:00Z","trigger":{"id":"ev-000041","type":"contract.signed","time":"2026-01-09T15:00:00Z"},"event":{"id":"ev-000231","type":"qbr.held","time":"2026-03-05T16:00:00Z"},"params":{"metric":"qbr_roi_usd","value":42000}}','[1772726400000000,0,1,[3,"soylent"],"{}",1767970800000000,"ev-000041",0,"met"]',1);
INSERT INTO "actions" VALUES('47632dca25e985c4f192d89fe66f3c76',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-09T22:04:59Z',1773093899000000,'"hooli"','{"thread_id":"T-0000005"}','2026-03-10T15:05:47Z','ev-000244','2026-03-09T20:05:47Z','ev-000246','{"metric":"ack_seconds","value":7152,"channel":"email"}','{"id":"47632dca25e985c4f192d89fe66f3c76","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-09T22:04:59Z","key":"hooli","subject":{"thread_id":"T-0000005"},"deadline":"2026-03-10T15:05:47Z","trigger":{"id":"ev-000244","type":"customer.message","time":"2026-03-09T20:05:47Z"},"event":{"id":"ev-000246","type":"vendor.reply","time":"2026-03-09T22:04:59Z"},"params":{"metric":"ack_seconds","value":7152,"channel":"email"}}','[1773093899000000,0,0,[3,"hooli"],"{\"thread_id\":\"T-0000005\"}",1773086747000000,"ev-000244",0,"met"]',1);
INSERT INTO "actions" VALUES('5b704b1516c8d02e2c0f788e0e499f27',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-09T22:48:28Z',1773096508000000,'"stark"','{"thread_id":"T-0000017"}','2026-03-10T16:23:47Z','ev-000245','2026-03-09T21:23:47Z','ev-000247','{"metric":"ack_seconds","value":5081,"channel":"slack"}','{"id":"5b704b1516c8d02e2c0f788e0e499f27","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-09T22:48:28Z","key":"stark","subject":{"thread_id":"T-0000017"},"deadline":"2026-03-10T16:23:47Z","trigger":{"id":"ev-000245","type":"customer.message","time":"2026-03-09T21:23:47Z"},"event":{"id":"ev-000247","type":"vendor.reply","time":"2026-03-09T22:48:28Z"},"params":{"metric":"ack_seconds","value":5081,"channel":"slack"}}','[1773096508000000,0,0,[3,"stark"],"{\"thread_id\":\"T-0000017\"}",1773091427000000,"ev-000245",0,"met"]',1);
INSERT INTO "actions" VALUES('7bbd4a9d3b5c2442ed69c6aa28c70075',1,'us-retention','disclose-before-notice','breach','preempted','escalate','2026-03-11T13:25:00Z',1773235500000000,'"hooli"','{"incident_id":"INC-2071"}','2026-03-11T14:00:00Z','ev-000252','2026-03-11T13:00:00Z','ev-000253','{"to":"incident-comms@example.com","cc":"priya@example.com","severity":"critical","message":"The customer reported it first: sev1 incident INC-2071 for hooli, 25m after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}','{"id":"7bbd4a9d3b5c2442ed69c6aa28c70075","playbook":"us-retention","rule":"disclose-before-notice","outcome":"breach","reason":"preempted","do":"escalate","at":"2026-03-11T13:25:00Z","key":"hooli","subject":{"incident_id":"INC-2071"},"deadline":"2026-03-11T14:00:00Z","trigger":{"id":"ev-000252","type":"incident.opened","time":"2026-03-11T13:00:00Z"},"event":{"id":"ev-000253","type":"customer.ticket","time":"2026-03-11T13:25:00Z"},"params":{"to":"incident-comms@example.com","cc":"priya@example.com","severity":"critical","message":"The customer reported it first: sev1 incident INC-2071 for hooli, 25m after it opened. Send the disclosure now: what happened, the impact, our plan, when it is back to normal."}}','[1773235500000000,0,2,[3,"hooli"],"{\"incident_id\":\"INC-2071\"}",1773234000000000,"ev-000252",0,"breach"]',1);
INSERT INTO "actions" VALUES('44fe8bb876f5064601fd1515bff2c6fd',1,'us-retention','disclose-before-notice','late',NULL,'task','2026-03-11T13:50:00Z',1773237000000000,'"hooli"','{"incident_id":"INC-2071"}','2026-03-11T14:00:00Z','ev-000252','2026-03-11T13:00:00Z','ev-000254','{"assignee":"priya@example.com","title":"Debrief hooli on incident INC-2071","message":"Disclosed 50m after the incident opened. Call the account, own the delay, and add it to the next QBR."}','{"id":"44fe8bb876f5064601fd1515bff2c6fd","playbook":"us-retention","rule":"disclose-before-notice","outcome":"late","reason":null,"do":"task","at":"2026-03-11T13:50:00Z","key":"hooli","subject":{"incident_id":"INC-2071"},"deadline":"2026-03-11T14:00:00Z","trigger":{"id":"ev-000252","type":"incident.opened","time":"2026-03-11T13:00:00Z"},"event":{"id":"ev-000254","type":"incident.disclosed","time":"2026-03-11T13:50:00Z"},"params":{"assignee":"priya@example.com","title":"Debrief hooli on incident INC-2071","message":"Disclosed 50m after the incident opened. Call the account, own the delay, and add it to the next QBR."}}','[1773237000000000,0,2,[3,"hooli"],"{\"incident_id\":\"INC-2071\"}",1773234000000000,"ev-000252",0,"late"]',1);
INSERT INTO "actions" VALUES('02ccb9828467c81d0ce13065a94da1a1',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-13T18:58:02Z',1773428282000000,'"soylent"','{"thread_id":"T-0000025"}','2026-03-13T22:00:00Z','ev-000266','2026-03-13T18:00:00Z','ev-000268','{"metric":"ack_seconds","value":3482,"channel":"chat"}','{"id":"02ccb9828467c81d0ce13065a94da1a1","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-13T18:58:02Z","key":"soylent","subject":{"thread_id":"T-0000025"},"deadline":"2026-03-13T22:00:00Z","trigger":{"id":"ev-000266","type":"customer.message","time":"2026-03-13T18:00:00Z"},"event":{"id":"ev-000268","type":"vendor.reply","time":"2026-03-13T18:58:02Z"},"params":{"metric":"ack_seconds","value":3482,"channel":"chat"}}','[1773428282000000,0,0,[3,"soylent"],"{\"thread_id\":\"T-0000025\"}",1773424800000000,"ev-000266",0,"met"]',1);
INSERT INTO "actions" VALUES('4efee13ca469131d459b76c81007117c',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-16T17:25:02Z',1773681902000000,'"wayne"','{"thread_id":"T-0000019"}','2026-03-16T20:41:49Z','ev-000273','2026-03-16T16:41:49Z','ev-000274','{"metric":"ack_seconds","value":2593,"channel":"email"}','{"id":"4efee13ca469131d459b76c81007117c","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-16T17:25:02Z","key":"wayne","subject":{"thread_id":"T-0000019"},"deadline":"2026-03-16T20:41:49Z","trigger":{"id":"ev-000273","type":"customer.message","time":"2026-03-16T16:41:49Z"},"event":{"id":"ev-000274","type":"vendor.reply","time":"2026-03-16T17:25:02Z"},"params":{"metric":"ack_seconds","value":2593,"channel":"email"}}','[1773681902000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000019\"}",1773679309000000,"ev-000273",0,"met"]',1);
INSERT INTO "actions" VALUES('e615caaa1cfd1739a5e86b850a3d1768',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-16T17:47:28Z',1773683248000000,'"wayne"','{"thread_id":"T-0000003"}','2026-03-16T20:40:51Z','ev-000272','2026-03-16T16:40:51Z','ev-000276','{"metric":"ack_seconds","value":3997,"channel":"chat"}','{"id":"e615caaa1cfd1739a5e86b850a3d1768","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-16T17:47:28Z","key":"wayne","subject":{"thread_id":"T-0000003"},"deadline":"2026-03-16T20:40:51Z","trigger":{"id":"ev-000272","type":"customer.message","time":"2026-03-16T16:40:51Z"},"event":{"id":"ev-000276","type":"vendor.reply","time":"2026-03-16T17:47:28Z"},"params":{"metric":"ack_seconds","value":3997,"channel":"chat"}}','[1773683248000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000003\"}",1773679251000000,"ev-000272",0,"met"]',1);
INSERT INTO "actions" VALUES('776448773d53c4372180417a0d4103fb',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-17T01:59:01Z',1773712741000000,'"wayne"','{"thread_id":"T-0000019"}','2026-03-17T17:00:00Z','ev-000281','2026-03-16T22:10:45Z','ev-000282','{"metric":"ack_seconds","value":13696,"channel":"email"}','{"id":"776448773d53c4372180417a0d4103fb","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-17T01:59:01Z","key":"wayne","subject":{"thread_id":"T-0000019"},"deadline":"2026-03-17T17:00:00Z","trigger":{"id":"ev-000281","type":"customer.message","time":"2026-03-16T22:10:45Z"},"event":{"id":"ev-000282","type":"vendor.reply","time":"2026-03-17T01:59:01Z"},"params":{"metric":"ack_seconds","value":13696,"channel":"email"}}','[1773712741000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000019\"}",1773699045000000,"ev-000281",0,"met"]',1);
INSERT INTO "actions" VALUES('50ab985dcd47a8d1200ddc518eb79834',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-17T12:19:54Z',1773749994000000,'"wayne"','{"thread_id":"T-0000003"}','2026-03-17T17:00:00Z','ev-000283','2026-03-17T10:38:38Z','ev-000284','{"metric":"ack_seconds","value":6076,"channel":"chat"}','{"id":"50ab985dcd47a8d1200ddc518eb79834","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-17T12:19:54Z","key":"wayne","subject":{"thread_id":"T-0000003"},"deadline":"2026-03-17T17:00:00Z","trigger":{"id":"ev-000283","type":"customer.message","time":"2026-03-17T10:38:38Z"},"event":{"id":"ev-000284","type":"vendor.reply","time":"2026-03-17T12:19:54Z"},"params":{"metric":"ack_seconds","value":6076,"channel":"chat"}}','[1773749994000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000003\"}",1773743918000000,"ev-000283",0,"met"]',1);
INSERT INTO "actions" VALUES('af8d9fc9cc62613698eca2b69854d8d9',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-17T16:04:34Z',1773763474000000,'"wayne"','{"thread_id":"T-0000003"}','2026-03-17T17:26:06Z','ev-000285','2026-03-17T13:26:06Z','ev-000288','{"metric":"ack_seconds","value":9508,"channel":"chat"}','{"id":"af8d9fc9cc62613698eca2b69854d8d9","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-17T16:04:34Z","key":"wayne","subject":{"thread_id":"T-0000003"},"deadline":"2026-03-17T17:26:06Z","trigger":{"id":"ev-000285","type":"customer.message","time":"2026-03-17T13:26:06Z"},"event":{"id":"ev-000288","type":"vendor.reply","time":"2026-03-17T16:04:34Z"},"params":{"metric":"ack_seconds","value":9508,"channel":"chat"}}','[1773763474000000,0,0,[3,"wayne"],"{\"thread_id\":\"T-0000003\"}",1773753966000000,"ev-000285",0,"met"]',1);
INSERT INTO "actions" VALUES('fb18262a77591093738837f7ee8d5022',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-18T16:36:34Z',1773851794000000,'"stark"','{"thread_id":"T-0000006"}','2026-03-18T19:47:45Z','ev-000292','2026-03-18T15:47:45Z','ev-000293','{"metric":"ack_seconds","value":2929,"channel":"email"}','{"id":"fb18262a77591093738837f7ee8d5022","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-18T16:36:34Z","key":"stark","subject":{"thread_id":"T-0000006"},"deadline":"2026-03-18T19:47:45Z","trigger":{"id":"ev-000292","type":"customer.message","time":"2026-03-18T15:47:45Z"},"event":{"id":"ev-000293","type":"vendor.reply","time":"2026-03-18T16:36:34Z"},"params":{"metric":"ack_seconds","value":2929,"channel":"email"}}','[1773851794000000,0,0,[3,"stark"],"{\"thread_id\":\"T-0000006\"}",1773848865000000,"ev-000292",0,"met"]',1);
INSERT INTO "actions" VALUES('ee56d6b1ab795c407c1105663180d3bb',1,'us-retention','ack-within-4h','met',NULL,'record_metric','2026-03-19T12:32:33Z',1773923553000000,'"stark"','{"thread_id":"T-0000006"}','2026-03-19T17:00:00Z','ev-000297','2026-03-19T02:06:46Z','ev-000299','{"metric":"ack_seconds","value":37547,"channel":"email"}','{"id":"ee56d6b1ab795c407c1105663180d3bb","playbook":"us-retention","rule":"ack-within-4h","outcome":"met","reason":null,"do":"record_metric","at":"2026-03-19T12:32:33Z","key":"stark","subject":{"thread_id":"T-0000006"},"deadline":"2026-03-19T17:00:00Z","trigger":{"id":"ev-000297","type":"customer.message","time":"2026-03-19T02:06:46Z"},"event":{"id":"ev-000299","type":"vendor.reply","time":"2026-03-19T12:32:33Z"},"params":{"metric":"ack_seconds","value":37547,"channel":"email"}}','[1773923553000000,0,0,[3,"stark"],"{\"thread_id\":\"T-0000006\"}",1773886006000000,"ev-000297",0,"met"]',1);
CREATE TABLE "events" (
   "id" TEXT PRIMARY KEY,
   "type" TEXT,
   "time" TEXT,
   "t" INTEGER,
   "source" TEXT,
   "data" TEXT
);
CREATE TABLE "late_events" (
   "id" TEXT PRIMARY KEY,
   "run_id" INTEGER,
   "time" TEXT,
   "t" INTEGER,
   "type" TEXT,
   "reason" TEXT,
   "source" TEXT,
   "data" TEXT
);
CREATE TABLE "obligations" (
   "playbook" TEXT,
   "rule" TEXT,
   "kind" TEXT,
   "key" TEXT,
   "subject" TEXT,
   "status" TEXT,
   "trigger_id" TEXT,
   "trigger_type" TEXT,
   "trigger_time" TEXT,
   "deadline" TEXT,
   "breached_at" TEXT,
   "periods_missed" INTEGER
);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"acme"','{}','running','ev-000208','qbr.held','2026-02-26T19:00:00Z','2026-05-27T19:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"hooli"','{}','running','ev-000014','contract.signed','2026-01-05T16:00:00Z','2026-04-05T16:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"globex"','{}','running','ev-000025','contract.signed','2026-01-06T15:00:00Z','2026-04-06T15:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"initech"','{}','running','ev-000033','contract.signed','2026-01-07T16:00:00Z','2026-04-07T16:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"stark"','{}','running','ev-000038','contract.signed','2026-01-08T19:00:00Z','2026-04-08T19:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"soylent"','{}','running','ev-000231','qbr.held','2026-03-05T16:00:00Z','2026-06-03T16:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','qbr-every-90d','cadence','"wayne"','{}','running','ev-000217','contract.signed','2026-03-02T15:00:00Z','2026-05-31T15:00:00Z',NULL,0);
INSERT INTO "obligations" VALUES('us-retention','disclose-before-notice','response','"soylent"','{"incident_id":"INC-2063"}','breached','ev-000200','incident.opened','2026-02-24T19:00:00Z','2026-02-24T20:00:00Z','2026-02-24T20:00:00Z',NULL);
CREATE TABLE "pending" (
   "id" TEXT PRIMARY KEY,
   "t" INTEGER,
   "source" TEXT,
   "data" TEXT
);
CREATE TABLE "processed" (
   "id" TEXT PRIMARY KEY,
   "t" INTEGER,
   "run_id" INTEGER
);
INSERT INTO "processed" VALUES('ev-000001',1767618000000000,1);
INSERT INTO "processed" VALUES('ev-000002',1767618060000000,1);
INSERT INTO "processed" VALUES('ev-000003',1767618120000000,1);
INSERT INTO "processed" VALUES('ev-000004',1767618180000000,1);
INSERT INTO "processed" VALUES('ev-000005',1767618240000000,1);
INSERT INTO "processed" VALUES('ev-000006',1767618300000000,1);
INSERT INTO "processed" VALUES('ev-000007',1767618360000000,1);
INSERT INTO "processed" VALUES('ev-000008',1767618420000000,1);
INSERT INTO "processed" VALUES('ev-000009',1767619800000000,1);
INSERT INTO "processed" VALUES('ev-000010',1767619860000000,1);
INSERT INTO "processed" VALUES('ev-000011',1767624099000000,1);
INSERT INTO "processed" VALUES('ev-000012',1767624620000000,1);
INSERT INTO "processed" VALUES('ev-000013',1767625200000000,1);
INSERT INTO "processed" VALUES('ev-000014',1767628800000000,1);
INSERT INTO "processed" VALUES('ev-000015',1767630467000000,1);
INSERT INTO "processed" VALUES('ev-000016',1767633640000000,1);
INSERT INTO "processed" VALUES('ev-000017',1767634894000000,1);
INSERT INTO "processed" VALUES('ev-000018',1767638215000000,1);
INSERT INTO "processed" VALUES('ev-000019',1767643200000000,1);
INSERT INTO "processed" VALUES('ev-000020',1767652268000000,1);
INSERT INTO "processed" VALUES('ev-000021',1767705876000000,1);
INSERT INTO "processed" VALUES('ev-000022',1767708300000000,1);
INSERT INTO "processed" VALUES('ev-000023',1767709880000000,1);
INSERT INTO "processed" VALUES('ev-000024',1767709970000000,1);
INSERT INTO "processed" VALUES('ev-000025',1767711600000000,1);
INSERT INTO "processed" VALUES('ev-000026',1767712800000000,1);
INSERT INTO "processed" VALUES('ev-000027',1767720129000000,1);
INSERT INTO "processed" VALUES('ev-000028',1767720297000000,1);
INSERT INTO "processed" VALUES('ev-000029',1767771871000000,1);
INSERT INTO "processed" VALUES('ev-000030',1767774175000000,1);
INSERT INTO "processed" VALUES('ev-000031',1767793183000000,1);
INSERT INTO "processed" VALUES('ev-000032',1767798248000000,1);
INSERT INTO "processed" VALUES('ev-000033',1767801600000000,1);
INSERT INTO "processed" VALUES('ev-000034',1767820445000000,1);
INSERT INTO "processed" VALUES('ev-000035',1767822978000000,1);
INSERT INTO "processed" VALUES('ev-000036',1767825659000000,1);
INSERT INTO "processed" VALUES('ev-000037',1767884400000000,1);
INSERT INTO "processed" VALUES('ev-000038',1767898800000000,1);
INSERT INTO "processed" VALUES('ev-000039',1767898964000000,1);
INSERT INTO "processed" VALUES('ev-000040',1767921548000000,1);
INSERT INTO "processed" VALUES('ev-000041',1767970800000000,1);
INSERT INTO "processed" VALUES('ev-000042',1767986864000000,1);
INSERT INTO "processed" VALUES('ev-000043',1767987130000000,1);
INSERT INTO "processed" VALUES('ev-000044',1768061413000000,1);
INSERT INTO "processed" VALUES('ev-000045',1768158102000000,1);
INSERT INTO "processed" VALUES('ev-000046',1768176841000000,1);
INSERT INTO "processed" VALUES('ev-000047',1768217877000000,1);
INSERT INTO "processed" VALUES('ev-000048',1768228200000000,1);
INSERT INTO "processed" VALUES('ev-000049',1768232971000000,1);
INSERT INTO "processed" VALUES('ev-000050',1768240808000000,1);
INSERT INTO "processed" VALUES('ev-000051',1768246175000000,1);
INSERT INTO "processed" VALUES('ev-000052',1768246214000000,1);
INSERT INTO "processed" VALUES('ev-000053',1768248179000000,1);
INSERT INTO "processed" VALUES('ev-000054',1768262784000000,1);
INSERT INTO "processed" VALUES('ev-000055',1768268516000000,1);
INSERT INTO "processed" VALUES('ev-000056',1768278846000000,1);
INSERT INTO "processed" VALUES('ev-000057',1768296686000000,1);
INSERT INTO "processed" VALUES('ev-000058',1768312249000000,1);
INSERT INTO "processed" VALUES('ev-000059',1768326020000000,1);
INSERT INTO "processed" VALUES('ev-000060',1768327200000000,1);
INSERT INTO "processed" VALUES('ev-000061',1768343451000000,1);
INSERT INTO "processed" VALUES('ev-000062',1768350903000000,1);
INSERT INTO "processed" VALUES('ev-000063',1768355602000000,1);
INSERT INTO "processed" VALUES('ev-000064',1768364103000000,1);
INSERT INTO "processed" VALUES('ev-000065',1768370557000000,1);
INSERT INTO "processed" VALUES('ev-000066',1768373686000000,1);
INSERT INTO "processed" VALUES('ev-000067',1768379303000000,1);
INSERT INTO "processed" VALUES('ev-000068',1768397262000000,1);
INSERT INTO "processed" VALUES('ev-000069',1768406400000000,1);
INSERT INTO "processed" VALUES('ev-000070',1768449293000000,1);
INSERT INTO "processed" VALUES('ev-000071',1768503600000000,1);
INSERT INTO "processed" VALUES('ev-000072',1768506710000000,1);
INSERT INTO "processed" VALUES('ev-000073',1768772481000000,1);
INSERT INTO "processed" VALUES('ev-000074',1768803814000000,1);
INSERT INTO "processed" VALUES('ev-000075',1768825130000000,1);
INSERT INTO "processed" VALUES('ev-000076',1768844454000000,1);
INSERT INTO "processed" VALUES('ev-000077',1768846633000000,1);
INSERT INTO "processed" VALUES('ev-000078',1768856222000000,1);
INSERT INTO "processed" VALUES('ev-000079',1768941000000000,1);
INSERT INTO "processed" VALUES('ev-000080',1769004600000000,1);
INSERT INTO "processed" VALUES('ev-000081',1769008111000000,1);
INSERT INTO "processed" VALUES('ev-000082',1769019391000000,1);
INSERT INTO "processed" VALUES('ev-000083',1769022818000000,1);
INSERT INTO "processed" VALUES('ev-000084',1769024047000000,1);
INSERT INTO "processed" VALUES('ev-000085',1769100645000000,1);
INSERT INTO "processed" VALUES('ev-000086',1769107758000000,1);
INSERT INTO "processed" VALUES('ev-000087',1769114528000000,1);
INSERT INTO "processed" VALUES('ev-000088',1769120108000000,1);
INSERT INTO "processed" VALUES('ev-000089',1769132793000000,1);
INSERT INTO "processed" VALUES('ev-000090',1769136278000000,1);
INSERT INTO "processed" VALUES('ev-000091',1769144764000000,1);
INSERT INTO "processed" VALUES('ev-000092',1769148324000000,1);
INSERT INTO "processed" VALUES('ev-000093',1769175599000000,1);
INSERT INTO "processed" VALUES('ev-000094',1769187105000000,1);
INSERT INTO "processed" VALUES('ev-000095',1769187723000000,1);
INSERT INTO "processed" VALUES('ev-000096',1769456800000000,1);
INSERT INTO "processed" VALUES('ev-000097',1769461831000000,1);
INSERT INTO "processed" VALUES('ev-000098',1769487880000000,1);
INSERT INTO "processed" VALUES('ev-000099',1769526600000000,1);
INSERT INTO "processed" VALUES('ev-000100',1769526660000000,1);
INSERT INTO "processed" VALUES('ev-000101',1769528100000000,1);
INSERT INTO "processed" VALUES('ev-000102',1769528400000000,1);
INSERT INTO "processed" VALUES('ev-000103',1769529900000000,1);
INSERT INTO "processed" VALUES('ev-000104',1769532246000000,1);
INSERT INTO "processed" VALUES('ev-000105',1769535000000000,1);
INSERT INTO "processed" VALUES('ev-000106',1769535000000000,1);
INSERT INTO "processed" VALUES('ev-000107',1769547600000000,1);
INSERT INTO "processed" VALUES('ev-000108',1769556600000000,1);
INSERT INTO "processed" VALUES('ev-000109',1769607000000000,1);
INSERT INTO "processed" VALUES('ev-000110',1769620060000000,1);
INSERT INTO "processed" VALUES('ev-000111',1769642708000000,1);
INSERT INTO "processed" VALUES('ev-000112',1769706302000000,1);
INSERT INTO "processed" VALUES('ev-000113',1769707787000000,1);
INSERT INTO "processed" VALUES('ev-000114',1769709309000000,1);
INSERT INTO "processed" VALUES('ev-000115',1769710210000000,1);
INSERT INTO "processed" VALUES('ev-000116',1769715664000000,1);
INSERT INTO "processed" VALUES('ev-000117',1769794950000000,1);
INSERT INTO "processed" VALUES('ev-000118',1769892067000000,1);
INSERT INTO "processed" VALUES('ev-000119',1769975053000000,1);
INSERT INTO "processed" VALUES('ev-000120',1769983769000000,1);
INSERT INTO "processed" VALUES('ev-000121',1770040800000000,1);
INSERT INTO "processed" VALUES('ev-000122',1770045701000000,1);
INSERT INTO "processed" VALUES('ev-000123',1770058848000000,1);
INSERT INTO "processed" VALUES('ev-000124',1770063641000000,1);
INSERT INTO "processed" VALUES('ev-000125',1770134400000000,1);
INSERT INTO "processed" VALUES('ev-000126',1770231233000000,1);
INSERT INTO "processed" VALUES('ev-000127',1770255783000000,1);
INSERT INTO "processed" VALUES('ev-000128',1770303600000000,1);
INSERT INTO "processed" VALUES('ev-000129',1770309321000000,1);
INSERT INTO "processed" VALUES('ev-000130',1770319410000000,1);
INSERT INTO "processed" VALUES('ev-000131',1770391478000000,1);
INSERT INTO "processed" VALUES('ev-000132',1770396408000000,1);
INSERT INTO "processed" VALUES('ev-000133',1770397836000000,1);
INSERT INTO "processed" VALUES('ev-000134',1770402259000000,1);
INSERT INTO "processed" VALUES('ev-000135',1770402403000000,1);
INSERT INTO "processed" VALUES('ev-000136',1770403444000000,1);
INSERT INTO "processed" VALUES('ev-000137',1770408080000000,1);
INSERT INTO "processed" VALUES('ev-000138',1770444647000000,1);
INSERT INTO "processed" VALUES('ev-000139',1770459066000000,1);
INSERT INTO "processed" VALUES('ev-000140',1770481855000000,1);
INSERT INTO "processed" VALUES('ev-000141',1770483600000000,1);
INSERT INTO "processed" VALUES('ev-000142',1770600853000000,1);
INSERT INTO "processed" VALUES('ev-000143',1770655820000000,1);
INSERT INTO "processed" VALUES('ev-000144',1770661000000000,1);
INSERT INTO "processed" VALUES('ev-000145',1770689700000000,1);
INSERT INTO "processed" VALUES('ev-000146',1770689700000000,1);
INSERT INTO "processed" VALUES('ev-000147',1770691800000000,1);
INSERT INTO "processed" VALUES('ev-000148',1770697800000000,1);
INSERT INTO "processed" VALUES('ev-000149',1770702000000000,1);
INSERT INTO "processed" VALUES('ev-000150',1770702000000000,1);
INSERT INTO "processed" VALUES('ev-000151',1770715036000000,1);
INSERT INTO "processed" VALUES('ev-000152',1770748902000000,1);
INSERT INTO "processed" VALUES('ev-000153',1770749570000000,1);
INSERT INTO "processed" VALUES('ev-000154',1770752544000000,1);
INSERT INTO "processed" VALUES('ev-000155',1770818400000000,1);
INSERT INTO "processed" VALUES('ev-000156',1770829910000000,1);
INSERT INTO "processed" VALUES('ev-000157',1770834453000000,1);
INSERT INTO "processed" VALUES('ev-000158',1770837664000000,1);
INSERT INTO "processed" VALUES('ev-000159',1770843618000000,1);
INSERT INTO "processed" VALUES('ev-000160',1770853005000000,1);
INSERT INTO "processed" VALUES('ev-000161',1770861318000000,1);
INSERT INTO "processed" VALUES('ev-000162',1770910200000000,1);
INSERT INTO "processed" VALUES('ev-000163',1770917989000000,1);
INSERT INTO "processed" VALUES('ev-000164',1770921286000000,1);
INSERT INTO "processed" VALUES('ev-000165',1770927904000000,1);
INSERT INTO "processed" VALUES('ev-000166',1770927981000000,1);
INSERT INTO "processed" VALUES('ev-000167',1770931845000000,1);
INSERT INTO "processed" VALUES('ev-000168',1770997192000000,1);
INSERT INTO "processed" VALUES('ev-000169',1770997675000000,1);
INSERT INTO "processed" VALUES('ev-000170',1771002811000000,1);
INSERT INTO "processed" VALUES('ev-000171',1771030283000000,1);
INSERT INTO "processed" VALUES('ev-000172',1771187863000000,1);
INSERT INTO "processed" VALUES('ev-000173',1771219091000000,1);
INSERT INTO "processed" VALUES('ev-000174',1771250400000000,1);
INSERT INTO "processed" VALUES('ev-000175',1771254226000000,1);
INSERT INTO "processed" VALUES('ev-000176',1771344000000000,1);
INSERT INTO "processed" VALUES('ev-000177',1771357289000000,1);
INSERT INTO "processed" VALUES('ev-000178',1771421840000000,1);
INSERT INTO "processed" VALUES('ev-000179',1771423200000000,1);
INSERT INTO "processed" VALUES('ev-000180',1771431403000000,1);
INSERT INTO "processed" VALUES('ev-000181',1771440252000000,1);
INSERT INTO "processed" VALUES('ev-000182',1771449500000000,1);
INSERT INTO "processed" VALUES('ev-000183',1771450460000000,1);
INSERT INTO "processed" VALUES('ev-000184',1771516602000000,1);
INSERT INTO "processed" VALUES('ev-000185',1771517928000000,1);
INSERT INTO "processed" VALUES('ev-000186',1771530732000000,1);
INSERT INTO "processed" VALUES('ev-000187',1771531200000000,1);
INSERT INTO "processed" VALUES('ev-000188',1771543133000000,1);
INSERT INTO "processed" VALUES('ev-000189',1771561409000000,1);
INSERT INTO "processed" VALUES('ev-000190',1771597800000000,1);
INSERT INTO "processed" VALUES('ev-000191',1771624800000000,1);
INSERT INTO "processed" VALUES('ev-000192',1771797677000000,1);
INSERT INTO "processed" VALUES('ev-000193',1771855200000000,1);
INSERT INTO "processed" VALUES('ev-000194',1771864318000000,1);
INSERT INTO "processed" VALUES('ev-000195',1771871288000000,1);
INSERT INTO "processed" VALUES('ev-000196',1771880459000000,1);
INSERT INTO "processed" VALUES('ev-000197',1771891805000000,1);
INSERT INTO "processed" VALUES('ev-000198',1771912914000000,1);
INSERT INTO "processed" VALUES('ev-000199',1771946179000000,1);
INSERT INTO "processed" VALUES('ev-000200',1771959600000000,1);
INSERT INTO "processed" VALUES('ev-000201',1771960661000000,1);
INSERT INTO "processed" VALUES('ev-000202',1771962951000000,1);
INSERT INTO "processed" VALUES('ev-000203',1771963800000000,1);
INSERT INTO "processed" VALUES('ev-000204',1771968711000000,1);
INSERT INTO "processed" VALUES('ev-000205',1772058616000000,1);
INSERT INTO "processed" VALUES('ev-000206',1772126842000000,1);
INSERT INTO "processed" VALUES('ev-000207',1772129370000000,1);
INSERT INTO "processed" VALUES('ev-000208',1772132400000000,1);
INSERT INTO "processed" VALUES('ev-000209',1772136865000000,1);
INSERT INTO "processed" VALUES('ev-000210',1772212115000000,1);
INSERT INTO "processed" VALUES('ev-000211',1772219884000000,1);
INSERT INTO "processed" VALUES('ev-000212',1772219901000000,1);
INSERT INTO "processed" VALUES('ev-000213',1772223027000000,1);
INSERT INTO "processed" VALUES('ev-000214',1772231786000000,1);
INSERT INTO "processed" VALUES('ev-000215',1772238260000000,1);
INSERT INTO "processed" VALUES('ev-000216',1772239145000000,1);
INSERT INTO "processed" VALUES('ev-000217',1772463600000000,1);
INSERT INTO "processed" VALUES('ev-000218',1772474394000000,1);
INSERT INTO "processed" VALUES('ev-000219',1772481600000000,1);
INSERT INTO "processed" VALUES('ev-000220',1772484981000000,1);
INSERT INTO "processed" VALUES('ev-000221',1772486087000000,1);
INSERT INTO "processed" VALUES('ev-000222',1772486656000000,1);
INSERT INTO "processed" VALUES('ev-000223',1772541124000000,1);
INSERT INTO "processed" VALUES('ev-000224',1772636400000000,1);
INSERT INTO "processed" VALUES('ev-000225',1772637811000000,1);
INSERT INTO "processed" VALUES('ev-000226',1772640000000000,1);
INSERT INTO "processed" VALUES('ev-000227',1772645178000000,1);
INSERT INTO "processed" VALUES('ev-000228',1772646270000000,1);
INSERT INTO "processed" VALUES('ev-000229',1772658000000000,1);
INSERT INTO "processed" VALUES('ev-000230',1772663217000000,1);
INSERT INTO "processed" VALUES('ev-000231',1772726400000000,1);
INSERT INTO "processed" VALUES('ev-000232',1772726609000000,1);
INSERT INTO "processed" VALUES('ev-000233',1772730526000000,1);
INSERT INTO "processed" VALUES('ev-000234',1772742744000000,1);
INSERT INTO "processed" VALUES('ev-000235',1772746596000000,1);
INSERT INTO "processed" VALUES('ev-000236',1772753067000000,1);
INSERT INTO "processed" VALUES('ev-000237',1772780219000000,1);
INSERT INTO "processed" VALUES('ev-000238',1772805600000000,1);
INSERT INTO "processed" VALUES('ev-000239',1772814121000000,1);
INSERT INTO "processed" VALUES('ev-000240',1772816997000000,1);
INSERT INTO "processed" VALUES('ev-000241',1772825937000000,1);
INSERT INTO "processed" VALUES('ev-000242',1772932033000000,1);
INSERT INTO "processed" VALUES('ev-000243',1773079034000000,1);
INSERT INTO "processed" VALUES('ev-000244',1773086747000000,1);
INSERT INTO "processed" VALUES('ev-000245',1773091427000000,1);
INSERT INTO "processed" VALUES('ev-000246',1773093899000000,1);
INSERT INTO "processed" VALUES('ev-000247',1773096508000000,1);
INSERT INTO "processed" VALUES('ev-000248',1773161879000000,1);
INSERT INTO "processed" VALUES('ev-000249',1773164903000000,1);
INSERT INTO "processed" VALUES('ev-000250',1773193488000000,1);
INSERT INTO "processed" VALUES('ev-000251',1773218472000000,1);
INSERT INTO "processed" VALUES('ev-000252',1773234000000000,1);
INSERT INTO "processed" VALUES('ev-000253',1773235500000000,1);
INSERT INTO "processed" VALUES('ev-000254',1773237000000000,1);
INSERT INTO "processed" VALUES('ev-000255',1773243600000000,1);
INSERT INTO "processed" VALUES('ev-000256',1773253483000000,1);
INSERT INTO "processed" VALUES('ev-000257',1773270785000000,1);
INSERT INTO "processed" VALUES('ev-000258',1773306251000000,1);
INSERT INTO "processed" VALUES('ev-000259',1773318753000000,1);
INSERT INTO "processed" VALUES('ev-000260',1773332370000000,1);
INSERT INTO "processed" VALUES('ev-000261',1773342307000000,1);
INSERT INTO "processed" VALUES('ev-000262',1773357052000000,1);
INSERT INTO "processed" VALUES('ev-000263',1773361781000000,1);
INSERT INTO "processed" VALUES('ev-000264',1773369205000000,1);
INSERT INTO "processed" VALUES('ev-000265',1773424094000000,1);
INSERT INTO "processed" VALUES('ev-000266',1773424800000000,1);
INSERT INTO "processed" VALUES('ev-000267',1773425013000000,1);
INSERT INTO "processed" VALUES('ev-000268',1773428282000000,1);
INSERT INTO "processed" VALUES('ev-000269',1773519033000000,1);
INSERT INTO "processed" VALUES('ev-000270',1773625914000000,1);
INSERT INTO "processed" VALUES('ev-000271',1773673200000000,1);
INSERT INTO "processed" VALUES('ev-000272',1773679251000000,1);
INSERT INTO "processed" VALUES('ev-000273',1773679309000000,1);
INSERT INTO "processed" VALUES('ev-000274',1773681902000000,1);
INSERT INTO "processed" VALUES('ev-000275',1773682056000000,1);
INSERT INTO "processed" VALUES('ev-000276',1773683248000000,1);
INSERT INTO "processed" VALUES('ev-000277',1773684292000000,1);
INSERT INTO "processed" VALUES('ev-000278',1773684631000000,1);
INSERT INTO "processed" VALUES('ev-000279',1773685150000000,1);
INSERT INTO "processed" VALUES('ev-000280',1773691598000000,1);
INSERT INTO "processed" VALUES('ev-000281',1773699045000000,1);
INSERT INTO "processed" VALUES('ev-000282',1773712741000000,1);
INSERT INTO "processed" VALUES('ev-000283',1773743918000000,1);
INSERT INTO "processed" VALUES('ev-000284',1773749994000000,1);
INSERT INTO "processed" VALUES('ev-000285',1773753966000000,1);
INSERT INTO "processed" VALUES('ev-000286',1773761419000000,1);
INSERT INTO "processed" VALUES('ev-000287',1773763310000000,1);
INSERT INTO "processed" VALUES('ev-000288',1773763474000000,1);
INSERT INTO "processed" VALUES('ev-000289',1773764728000000,1);
INSERT INTO "processed" VALUES('ev-000290',1773776767000000,1);
INSERT INTO "processed" VALUES('ev-000291',1773842964000000,1);
INSERT INTO "processed" VALUES('ev-000292',1773848865000000,1);
INSERT INTO "processed" VALUES('ev-000293',1773851794000000,1);
INSERT INTO "processed" VALUES('ev-000294',1773854418000000,1);
INSERT INTO "processed" VALUES('ev-000295',1773858850000000,1);
INSERT INTO "processed" VALUES('ev-000296',1773867559000000,1);
INSERT INTO "processed" VALUES('ev-000297',1773886006000000,1);
INSERT INTO "processed" VALUES('ev-000298',1773923026000000,1);
INSERT INTO "processed" VALUES('ev-000299',1773923553000000,1);
INSERT INTO "processed" VALUES('ev-000300',1773932442000000,1);
CREATE TABLE "runs" (
   "id" INTEGER PRIMARY KEY,
   "started" TEXT,
   "finished" TEXT,
   "status" TEXT,
   "source" TEXT,
   "until" TEXT,
   "events_read" INTEGER,
   "events_processed" INTEGER,
   "duplicates" INTEGER,
   "late" INTEGER,
   "skipped" INTEGER,
   "actions_new" INTEGER,
   "notes" TEXT
);
INSERT INTO "runs" VALUES(1,'2026-11-26T11:46:47Z','2026-11-26T11:46:47Z','completed','/tmp/s3/v1/a.jsonl','2026-03-19T15:00:42Z',300,300,0,0,0,48,'');
CREATE TABLE "state" (
   "playbook" TEXT PRIMARY KEY,
   "clock" INTEGER,
   "clock_time" TEXT,
   "run_id" INTEGER,
   "snapshot" TEXT
);
INSERT INTO "state" VALUES('us-retention',1773932442000000,'2026-03-19T15:00:42Z',1,'{"name":"us-retention","settings_digest":"7772ab9613a862c041f2e80f99df444d41152fea13763b4259256c1105a117af","rule_digests":{"ack-within-4h":"4fcc4f631525d85c3e5e46f94fd61363603b4f772af7699aed1224d521d43b1a","qbr-every-90d":"7c5516fd7cea98a4a58b7623949c6601f3172bc048423a6c689fa0593620226e","disclose-before-notice":"53e88078f9b15c9c5042968fa8758b106b45b765c0f2aadea385bdbf0aa22e3e","propose-multilingual":"64de8da9069a00abdcd9b699a3e10f94602e79eeed857383c3183f9011ae5481","propose-onboarding":"b6b91b2fe7fb56c6d90f768b4237e057a2bed2ed5f153230f4475cdf26f84312"},"state":{"clock":1773932442000000,"facts":[["acme",{"tier":"enterprise","csm":"dana@example.com","arr":240000,"seats":400,"modules":["sso","multilingual"]}],["globex",{"tier":"pro","csm":"lee@example.com","arr":60000,"seats":120}],["initech",{"tier":"starter","arr":9000,"seats":25}],["umbrella",{"tier":"free","arr":0,"seats":5}],["hooli",{"tier":"pro","csm":"priya@example.com","arr":85000,"seats":180}],["stark",{"tier":"enterprise","csm":"sam@example.com","arr":410000,"seats":800,"modules":["multilingual"]}],["wayne",{"tier":"enterprise","csm":"dana@example.com","arr":180000,"seats":300}],["soylent",{"tier":"pro","csm":"priya@example.com","arr":48000,"seats":90}]],"rules":{"ack-within-4h":{"obligations":[]},"qbr-every-90d":{"cadences":[{"key":"acme","trigger":{"id":"ev-000208","type":"qbr.held","t":1772132400000000,"source":"/tmp/s3/v1/a.jsonl:208","data":{"id":"ev-000208","type":"qbr.held","time":"2026-02-26T19:00:00Z","account":"acme","qbr_id":"QBR-acme-1","attendees":7,"roi":{"value_usd":185000,"hours_saved":1400}}},"due":1779908400000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"hooli","trigger":{"id":"ev-000014","type":"contract.signed","t":1767628800000000,"source":"/tmp/s3/v1/a.jsonl:14","data":{"id":"ev-000014","type":"contract.signed","time":"2026-01-05T16:00:00Z","account":"hooli","contract_id":"C-hooli-2026","arr":85000,"term_months":12,"renewal":false}},"due":1775404800000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"globex","trigger":{"id":"ev-000025","type":"contract.signed","t":1767711600000000,"source":"/tmp/s3/v1/a.jsonl:25","data":{"id":"ev-000025","type":"contract.signed","time":"2026-01-06T15:00:00Z","account":"globex","contract_id":"C-globex-2026","arr":60000,"term_months":12,"renewal":false}},"due":1775487600000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"initech","trigger":{"id":"ev-000033","type":"contract.signed","t":1767801600000000,"source":"/tmp/s3/v1/a.jsonl:33","data":{"id":"ev-000033","type":"contract.signed","time":"2026-01-07T16:00:00Z","account":"initech","contract_id":"C-initech-2026","arr":9000,"term_months":12,"renewal":false}},"due":1775577600000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"stark","trigger":{"id":"ev-000038","type":"contract.signed","t":1767898800000000,"source":"/tmp/s3/v1/a.jsonl:38","data":{"id":"ev-000038","type":"contract.signed","time":"2026-01-08T19:00:00Z","account":"stark","contract_id":"C-stark-2026","arr":410000,"term_months":12,"renewal":false}},"due":1775674800000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"soylent","trigger":{"id":"ev-000231","type":"qbr.held","t":1772726400000000,"source":"/tmp/s3/v1/a.jsonl:231","data":{"id":"ev-000231","type":"qbr.held","time":"2026-03-05T16:00:00Z","account":"soylent","qbr_id":"QBR-soylent-1","attendees":4,"roi":{"value_usd":42000,"hours_saved":310}}},"due":1780502400000000,"periods_missed":0,"first_missed":null,"calendar":null},{"key":"wayne","trigger":{"id":"ev-000217","type":"contract.signed","t":1772463600000000,"source":"/tmp/s3/v1/a.jsonl:217","data":{"id":"ev-000217","type":"contract.signed","time":"2026-03-02T15:00:00Z","account":"wayne","contract_id":"C-wayne-2026b","arr":180000,"term_months":12,"renewal":false}},"due":1780239600000000,"periods_missed":0,"first_missed":null,"calendar":null}]},"disclose-before-notice":{"obligations":[{"key":"soylent","subject":{"incident_id":"INC-2063"},"trigger":{"id":"ev-000200","type":"incident.opened","t":1771959600000000,"source":"/tmp/s3/v1/a.jsonl:200","data":{"id":"ev-000200","type":"incident.opened","time":"2026-02-24T19:00:00Z","account":"soylent","incident_id":"INC-2063","severity":"sev2","component":"search","title":"Search results stale"}},"deadline":1771963200000000,"status":1,"breach_at":1771963200000000,"calendar":null}]},"propose-multilingual":{"groups":[{"key":"acme","subject":{},"last_firing":1770134400000000,"window":[]},{"key":"wayne","subject":{},"last_firing":1772640000000000,"window":[]}]},"propose-onboarding":{"groups":[{"key":"hooli","subject":{"location":"Chicago"},"last_firing":null,"window":[1771597800000000]},{"key":"globex","subject":{"location":"Austin"},"last_firing":1771855200000000,"window":[]},{"key":"globex","subject":{"location":"Denver"},"last_firing":null,"window":[1771250400000000]}]}}},"_format":"playbook-engine-state/1"}');
CREATE TABLE "store_meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
INSERT INTO "store_meta" VALUES('format','playbook-store');
INSERT INTO "store_meta" VALUES('version','1');
CREATE INDEX "idx_actions_at_us"
    ON "actions" ("at_us");
CREATE INDEX "idx_actions_rule"
    ON "actions" ("rule");
CREATE INDEX "idx_actions_printed"
    ON "actions" ("printed");
CREATE INDEX "idx_obligations_playbook_rule_key"
    ON "obligations" ("playbook", "rule", "key");
CREATE INDEX "idx_events_t"
    ON "events" ("t");
CREATE INDEX "idx_events_type"
    ON "events" ("type");
CREATE INDEX "idx_pending_t"
    ON "pending" ("t");
COMMIT;
